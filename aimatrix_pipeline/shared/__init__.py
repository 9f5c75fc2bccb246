"""The shared layer: what several domains use, so no domain imports another domain or the CLI.

Layers, from the bottom:
- shared: this package (project partitions, the batched schedule and batch runs, alert rules and the checks
  built from them, the asset selections domains agree on, UI previews, CLI output and exit codes) and the top-level helper modules
  `settings`, `config_checks`, `sql_files`, `metadata`, `terminal`, `querytext`,
  `instance_storage`, `warehouse` (the notebook query helper) and the `resources` package. They import nothing from a domain.
- domains: `alerts`, `analytics`, `appsignals`, `cost`, `dashboard`, `extract`, `fleet`,
  `remediation`. Each imports its own modules and the shared layer only.
- composition roots: `definitions`, `locations`, `cli`, `config_commands`, `demo`, `watch`,
  `docs_reference` (writes the reference pages from the definitions and the CLI).
  They assemble domains and may import anything.

tests/test_layers.py enforces these rules over the package's import statements.
"""
