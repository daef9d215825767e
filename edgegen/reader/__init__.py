"""Reader studies: radiologists judge blinded real and synthetic chest X-rays in a web app.

blinding (pure: balanced seeded picks, opaque IDs, plain PNGs) → create (writes the study
folder) → store (SQLite answers, readers, sessions) → flow (pure: a reader's order, trial and next
image) → app (the Starlette routes, templates/ and static/) → analyze (pure statistics) → report
(Markdown, HTML, CSV). `layout` names every file of a study folder.
"""
