"""CARLA support: recorder files and the CARLA simulator backend.

recorder   streaming reader of CARLA recorder `.log` files (no server needed), trajectories in metres
writer     writer of the same format; exports built-in scenes as recordings
sizes      actor dimensions (log BoundingBox | blueprint table | class default) and categories
loginfo    `sdg log-info FILE`
convert    CARLA camera encodings -> sensor arrays
instances  instance ids -> scene actor ids (id check, projection fallback)
server     port allocation and server process supervision
backend    CarlaSimulator (imports the `carla` client library lazily)
"""
