"""`ray start` for an extra node of a loopback-only cluster on one machine: ``python tests/raynode.py start ...``
takes exactly the arguments of ``ray start`` and runs Ray's own command.

Why: on Linux Ray replaces 127.0.0.1 by the machine's address (and listens on all interfaces) unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, but with that setting ``ray start --address ...`` refuses to add a node
("Multi-node Ray clusters are not supported on Windows and OSX"). This wrapper keeps the setting for the node's
address resolution (so the node binds and registers 127.0.0.1) and lifts only that refusal, which is a platform
guard in the CLI, not a property of the cluster. On real multi-host clusters plain ``ray start`` is used.
"""
import sys
import types

import ray._private.ray_constants as ray_constants
import ray.scripts.scripts as scripts

allowed = types.ModuleType(ray_constants.__name__)
allowed.__dict__.update(ray_constants.__dict__)
allowed.ENABLE_RAY_CLUSTER = True  # seen by the CLI's platform guard only; address resolution keeps the real value
scripts.ray_constants = allowed
sys.argv[0] = "ray"
sys.exit(scripts.main())
