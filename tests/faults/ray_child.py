"""Child process of the Ray isolation tests: start Ray as ``ieco`` does, print where it went, wait for stdin."""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    from experiments.ray_session import ensure_ray

    info = ensure_ray(None, 1)
    print(json.dumps(info), flush=True)
    sys.stdin.read()  # keep Ray up until the test closes our stdin
