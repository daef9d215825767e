"""What this machine is: CPU, NVIDIA GPUs (NVML), Jetson module, and usable runtimes."""
