"""The pipeline's side of Ray Serve: `contract` (names, fingerprints, errors shared with serve/apps.py), `deploy`
(start/stop the apps of a job), `handles` (the apps as Augmenter / PromptSource backends)."""
