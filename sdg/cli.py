"""The `sdg` command line: run | validate | inspect | log-info | check | scenarios."""
from __future__ import annotations

import argparse
import json
import logging
import sys


class UserError(Exception):
    """An error the user can act on: printed without a traceback, exit code 2."""


def _load(path: str):
    from sdg.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        raise UserError(str(e)) from None


def cmd_validate(args) -> int:
    from sdg.run import preflight

    cfg = _load(args.config)
    specs = _preflight(preflight, cfg)
    from sdg.placement import PlanError, plan_summary

    try:
        plan = plan_summary(cfg, len(specs))
    except PlanError as e:
        raise UserError(str(e)) from None
    print(f"{args.config}: ok — {len(specs)} clip(s), {cfg.augmentation.variants} variant(s) each")
    for s in specs:
        print(f"  {s.clip_id}  camera {s.camera.width}x{s.camera.height} fov {s.camera.fov:g}")
    print("resources:")
    print("\n".join(plan))
    return 0


def _preflight(fn, cfg):
    try:
        return fn(cfg)
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{cfg.source}: {e}") from None
    except Exception as e:  # recorder/YAML errors etc. carry their own file names
        if type(e).__name__.endswith("Error"):
            raise UserError(str(e)) from None
        raise


def cmd_run(args) -> int:
    from sdg.export.shards import ManifestError
    from sdg.run import RunError, preflight, run_job
    from sdg.storage import StorageError, open_location

    cfg = _load(args.config)
    _preflight(preflight, cfg)
    out = args.output or cfg.output.dir
    try:
        open_location(out).check_writable()  # before any service is contacted: nothing is written elsewhere
    except StorageError as e:
        raise UserError(str(e)) from None
    if args.check or cfg.backends.augmenter != "builtin" or cfg.backends.prompts != "template" or \
            cfg.backends.simulator != "builtin":
        from sdg.check import check_services

        verdicts = check_services(cfg)
        for v in verdicts:
            print(v.line())
        if not all(v.ok for v in verdicts):
            raise UserError("preflight failed: fix the services above (or use the builtin backends) and re-run")
    from sdg.placement import PlanError
    from sdg.serving.contract import ServeError

    try:
        result = run_job(cfg, out, executor=args.executor, exports=not args.no_exports, overwrite=args.overwrite,
                         ray_address=args.ray_address, node_ip=args.node_ip_address, dashboard=args.dashboard)
    except (PlanError, ServeError, StorageError, RunError, ManifestError) as e:  # the run could not start
        raise UserError(str(e)) from None
    print(
        f"sdg run {cfg.name}: {len(result.committed)} clip(s) committed, {len(result.skipped)} already done, "
        f"{len(result.failed)} failed, {result.seconds:.1f} s -> {result.out_dir}"
    )
    for line in result.reasons():
        print(f"  {line}")
    if result.stages:
        from sdg.metrics import format_table

        print(format_table(result.stages))
    if result.retries:
        print(f"  retries: augment {sum(result.retries.values())} (over {len(result.retries)} clip(s))")
    for clip, err in result.failed.items():
        f = result.failures[clip]
        print(f"error: clip {clip}: {err} (after {f.attempts} attempt(s); recorded in the manifest, the next run "
              "retries it)", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_inspect(args) -> int:
    from sdg.export.shards import ManifestError
    from sdg.inspect import inspect_output
    from sdg.storage import StorageError

    try:
        report = inspect_output(args.out_dir, sample=args.sample)
    except (FileNotFoundError, StorageError, ManifestError) as e:
        raise UserError(str(e)) from None
    print(report.text)
    for p in report.images + ([report.html] if report.html else []):
        print(f"wrote {p}")
    return 0


def cmd_log_info(args) -> int:
    from sdg.carla.loginfo import format_log_info, log_info

    try:
        info = log_info(args.file)
    except FileNotFoundError:
        raise UserError(f"{args.file}: no such file") from None
    except Exception as e:
        if type(e).__name__ == "RecorderError":
            raise UserError(str(e)) from None
        raise
    print(json.dumps(info, indent=1) if args.json else format_log_info(info))
    return 0


def cmd_check(args) -> int:
    from sdg.check import check_services

    cfg = _load(args.config)
    verdicts = check_services(cfg)
    for v in verdicts:
        print(v.line())
    return 0 if all(v.ok for v in verdicts) else 1


def cmd_scenarios(args) -> int:
    from sdg.scenario.builtin import SCENARIO_KINDS

    for name, desc in SCENARIO_KINDS.items():
        print(f"{name:14s} {desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sdg", description="Traffic simulation -> annotated, augmented VLM data on Ray")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a job config end to end (resumes from the output's manifest)")
    r.add_argument("config")
    r.add_argument("--output", "-o", help="output folder or URI, e.g. s3://bucket/run1 (overrides output.dir); "
                   "endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... in the environment")
    r.add_argument("--overwrite", action="store_true",
                   help="start over: delete the output's manifest, shards and exports first (else the run resumes)")
    r.add_argument("--executor", choices=["ray", "local"], default="ray")
    r.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run on the Ray cluster at ADDR (head host:port; default $RAY_ADDRESS, set by `ray job "
                   "submit`); without it a local Ray is started, listening on 127.0.0.1 only")
    r.add_argument("--node-ip-address", default=None, metavar="IP",
                   help="bind the local Ray to this address of the machine instead of 127.0.0.1")
    r.add_argument("--check", action="store_true", help="run the service preflight even for builtin backends")
    r.add_argument("--no-exports", action="store_true")
    r.add_argument("--dashboard", action="store_true",
                   help="start the Ray dashboard with a local run (on 127.0.0.1, or --node-ip-address) and print "
                        "its URL")
    r.set_defaults(fn=cmd_run)
    v = sub.add_parser("validate", help="validate a job config (and its cameras, recordings, scenarios)")
    v.add_argument("config")
    v.set_defaults(fn=cmd_validate)
    i = sub.add_parser("inspect", help="counts, schema, PNG sheets and the HTML report (inspect/report.html) "
                                       "of an output folder or URI")
    i.add_argument("out_dir", help="output folder or URI (s3://bucket/run1)")
    i.add_argument("--sample", type=int, default=6)
    i.set_defaults(fn=cmd_inspect)
    li = sub.add_parser("log-info", help="summarise a CARLA recorder .log (no server needed)")
    li.add_argument("file")
    li.add_argument("--json", action="store_true")
    li.set_defaults(fn=cmd_log_info)
    c = sub.add_parser("check", help="reach every service a config names and print one verdict per service")
    c.add_argument("config")
    c.set_defaults(fn=cmd_check)
    s = sub.add_parser("scenarios", help="list the built-in scenario kinds")
    s.set_defaults(fn=cmd_scenarios)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `sdg log-info x.log | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
