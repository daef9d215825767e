"""The cloud leg: OpenAI image models through the official client, priced from a dated table.

Nothing in edgegen calls the network except `edgegen dalle` (and `bench --cloud`), and only text
prompts are ever sent: no image and no patient data leaves the machine.
"""
