"""How long redact_text takes on 64 KiB of typical container log (target: < 5 ms).

Run: ``.venv/bin/python benchmarks/bench_redact.py``
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from idp.settings import DEMO_SNAPSHOT
from tools.redact import redact_object, redact_text

LINES = (
    "2026-11-27T07:12:44.123Z INFO  [http-nio-8080-exec-4] c.a.o.OrderController : GET /api/v1/orders/{id} 200 12ms",
    '10.42.1.17 - - [27/Nov/2026:07:12:44 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.30"',
    json.dumps(
        {"level": "info", "ts": 1764227564.12, "msg": "token refreshed", "expires_in": 3600, "user": "svc"}
    ),
    "\tat com.acme.orders.OrderService.place(OrderService.java:142) ~[orders-1.4.2.jar:1.4.2]",
    'E1127 07:12:44.123456       1 reflector.go:158] failed to list *v1.Pod: Get "https://10.96.0.1:443/api/v1/pods?limit=500": dial tcp 10.96.0.1:443: i/o timeout',
    "pulling image registry.acme.io/shop/cart@sha256:f4941d4072014b3ce107f80e222f828767efc2f91624a8940f1f836f99eee369",
    'level=warn msg="retrying connection" attempt=3 backoff=2s db=postgres://orders@orders-db:5432/orders',
)
SECRET_LINES = (
    'level=error msg="connect failed" dsn=postgres://orders:Pa55w0rd@orders-db:5432/orders',
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaS1ib3QiLCJleHAiOjE4MDB9.Qm9ndXNTaWduYXR1cmU",
    "export AWS_ACCESS_KEY_ID=AKIAAUVZHMASQXEZYEX1 password=hunter2",
)


def build_log(size: int = 64 * 1024, secret_every: int = 50) -> str:
    lines: list[str] = []
    total = 0
    i = 0
    while total < size:
        line = SECRET_LINES[i % len(SECRET_LINES)] if i % secret_every == 0 else LINES[i % len(LINES)]
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines)[:size]


def measure(run: Callable[[], object], repeat: int = 50) -> list[float]:
    run()  # warm up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        runs.append((time.perf_counter() - start) * 1000)
    return runs


def main() -> None:
    for label, text in (
        ("64 KiB log, a secret every 50 lines", build_log()),
        ("64 KiB log, no secrets", build_log(secret_every=10**9)),
        ("1 short line", LINES[0]),
    ):
        report(label, len(text), measure(lambda text=text: redact_text(text)))
    cluster = json.loads((DEMO_SNAPSHOT / "cluster.json").read_text(encoding="utf-8"))
    size = len(json.dumps(cluster))
    report(
        f"redact_object, demo cluster ({len(cluster['items'])} objs)",
        size,
        measure(lambda: redact_object(cluster)),
    )


def report(label: str, chars: int, runs: list[float]) -> None:
    print(
        f"{label:<40} {chars:>7} chars  median {statistics.median(runs):7.3f} ms"
        f"  p95 {sorted(runs)[int(len(runs) * 0.95) - 1]:7.3f} ms"
    )


if __name__ == "__main__":
    main()
