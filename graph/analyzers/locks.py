"""Locks a starting process waits for and gives up on, read from its log.

Schema-migration tools and leader election serialise instances through a lock: Liquibase's
DATABASECHANGELOGLOCK row, Flyway's and Prisma's PostgreSQL advisory locks, Rails' concurrent
migration guard, knex's ``knex_migrations_lock`` table, golang-migrate's lock, a coordination
Lease. When the instance holding it was killed mid-way (a rollout, an OOM kill, a cancelled
deploy), the lock is never released and every new instance waits, times out and exits. The
release step is the standard one for the tool, and it is only safe once the holder is
confirmed gone: releasing a lock a live migration holds corrupts the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graph.analyzers.base import Fact, ns_flag, src_log
from graph.evidence import EvidenceView, K8sObject, name_of
from graph.schemas import ReadSpec

_DB_URL = re.compile(
    r"(?:jdbc:)?(?P<engine>postgres(?:ql)?|mysql|mariadb)://(?:[^@/\s\"']+@)?(?P<host>[\w.-]+)(?::\d+)?/(?P<db>[\w-]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Database:
    """Where the lock lives, from the connection URL the container is given."""

    engine: str
    host: str
    name: str

    def run(self, namespace: str | None, sql: str) -> str:
        """A one-off client pod that runs ``sql`` against the database (credentials left to the user)."""
        where = f" -n {namespace}" if namespace else ""
        if self.engine.startswith("postgres"):
            client = f'--image=postgres:16 -- psql -h {self.host} -U <user> -d {self.name} -c "{sql}"'
        else:
            client = f'--image=mysql:8 -- mysql -h {self.host} -u <user> -p {self.name} -e "{sql}"'
        return f"kubectl run db-unlock{where} --rm -it --restart=Never {client}"


@dataclass(frozen=True)
class HeldLock:
    """A lock the log says the process could not take."""

    tool: str
    lock: str
    """what is locked, in words naming the table or object (``table DATABASECHANGELOGLOCK``)"""
    quote: str
    """the log line that says so"""
    holder: str | None = None
    holder_address: str | None = None
    since: str | None = None
    release_sql: str | None = None
    """the standard release statement, when the lock is a row the tool keeps in the database"""
    release_tool: str | None = None
    """the tool's own release command, when it has one"""
    advisory_key: str | None = None
    lease: str | None = None
    """``namespace/name`` of a coordination Lease"""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Rule:
    tool: str
    detect: re.Pattern[str]
    lock: str
    release_sql: str | None = None
    release_tool: str | None = None
    advisory: bool = False


_RULES = [
    _Rule(
        "Liquibase",
        re.compile(r"Could not acquire change ?log lock[^\n]*|Waiting for change ?log lock[^\n]*", re.I),
        "the Liquibase changelog lock (table DATABASECHANGELOGLOCK)",
        "UPDATE DATABASECHANGELOGLOCK SET LOCKED=FALSE, LOCKGRANTED=NULL, LOCKEDBY=NULL WHERE ID=1",
        "liquibase releaseLocks",
    ),
    _Rule(
        "Flyway",
        re.compile(r"Number of retries exceeded while attempting to acquire [\w ]*lock[^\n]*", re.I),
        "Flyway's migration lock (a database advisory/named lock on the schema history)",
        advisory=True,
    ),
    _Rule(
        "Prisma",
        re.compile(r"Timed out trying to acquire a postgres advisory lock[^\n]*", re.I),
        "Prisma Migrate's PostgreSQL advisory lock",
        advisory=True,
    ),
    _Rule(
        "Rails",
        re.compile(
            r"ConcurrentMigrationError[^\n]*|another migration process is currently running[^\n]*", re.I
        ),
        "the Rails migration advisory lock",
        advisory=True,
    ),
    _Rule(
        "knex",
        re.compile(r"Migration table is already locked[^\n]*", re.I),
        "the knex migration lock (table knex_migrations_lock)",
        "UPDATE knex_migrations_lock SET is_locked = 0",
        "npx knex migrate:unlock",
    ),
    _Rule(
        "golang-migrate",
        re.compile(r"can't acquire lock[^\n]*|error: (?:database )?locked[^\n]*", re.I),
        "golang-migrate's migration lock (a database advisory lock)",
        advisory=True,
    ),
]
_LIQUIBASE_HOLDER = re.compile(
    r"(?:Currently )?locked by (?P<holder>[^\s(]+)(?: \((?P<addr>[^)]+)\))?(?: since (?P<since>[^\n]+?))?\s*$",
    re.I | re.M,
)
_ADVISORY_KEY = re.compile(r"pg_advisory_lock\((?P<key>-?\d+)\)")
_LEASE = re.compile(
    r"(?:failed to acquire|attempting to acquire) (?:leader )?lease (?P<lease>[\w.-]+/[\w.-]+)[^\n]*", re.I
)
_LEASE_HOLDER = re.compile(r"(?:lock|lease) is held by (?P<holder>[\w.:-]+)[^\n]*", re.I)
_LEASE_FATAL = re.compile(r"leaderelection lost|leader election lost|failed to acquire lease", re.I)


def held_lock(log: str) -> HeldLock | None:
    """The lock the log says the process waited for and gave up on, with its holder when logged."""
    for rule in _RULES:
        hits = list(rule.detect.finditer(log))
        if not hits:
            continue
        # The give-up line (the last) quotes the holder; "waiting" lines come before it.
        quote = hits[-1].group(0).strip()
        holder = _LIQUIBASE_HOLDER.search(log) if rule.tool == "Liquibase" else None
        key = _ADVISORY_KEY.search(log)
        return HeldLock(
            tool=rule.tool,
            lock=rule.lock,
            quote=quote[:300],
            holder=holder.group("holder").rstrip(".,") if holder else None,
            holder_address=holder.group("addr") if holder else None,
            since=holder.group("since").strip() if holder and holder.group("since") else None,
            release_sql=rule.release_sql,
            release_tool=rule.release_tool,
            advisory_key=key.group("key") if key else ("" if rule.advisory else None),
        )
    lease = _LEASE.search(log)
    if lease and _LEASE_FATAL.search(log):
        holder = _LEASE_HOLDER.search(log)
        return HeldLock(
            tool="leader election",
            lock=f"the leader-election Lease {lease.group('lease')}",
            quote=lease.group(0).strip()[:300],
            holder=holder.group("holder") if holder else None,
            lease=lease.group("lease"),
        )
    return None


def database_of(container: dict[str, object], log: str) -> Database | None:
    """The database a container connects to: a connection URL in its env values, else in its log."""
    values = [str(e.get("value") or "") for e in container.get("env") or [] if isinstance(e, dict)]  # type: ignore[attr-defined]
    for text in [*values, log]:
        found = _DB_URL.search(text)
        if found:
            return Database(found.group("engine").lower(), found.group("host"), found.group("db"))
    return None


def holder_pod_state(lock: HeldLock, pods: list[K8sObject]) -> str | None:
    """``gone`` when the holder names a pod of the namespace that no longer exists, else its phase."""
    if not lock.holder:
        return None
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("name") == lock.holder or lock.holder.startswith(f"{meta.get('name')}:"):
            return str((pod.get("status") or {}).get("phase") or "present")
    # Only a holder that looks like a pod name of this namespace can be declared gone.
    names = [str((p.get("metadata") or {}).get("name") or "") for p in pods]
    prefix = lock.holder.rsplit("-", 2)[0]
    if any(n.startswith(prefix + "-") for n in names) and re.fullmatch(r"[a-z0-9][-a-z0-9]*", lock.holder):
        return "gone"
    return None


def release_steps(lock: HeldLock, namespace: str | None, database: Database | None) -> list[str]:
    """The standard release for the lock, each line warning that the holder must be gone first."""
    holder = lock.holder or "the instance holding it"
    warn = f"# ⚠ only once {holder} is confirmed gone (no live process still migrating)"
    steps: list[str] = []
    if lock.release_sql:
        if database is not None:
            steps.append(f"{database.run(namespace, lock.release_sql)}  {warn}")
        else:
            steps.append(f"# {lock.release_sql};  {warn} — run it with the database client")
    if lock.advisory_key is not None:
        match = f" AND objid={lock.advisory_key}" if lock.advisory_key else ""
        find = (
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l JOIN "
            f"pg_stat_activity a USING (pid) WHERE l.locktype='advisory'{match}"
        )
        if database is not None and database.engine.startswith("postgres"):
            steps.append(f"{database.run(namespace, find)}  # which session holds the lock")
            steps.append(
                f"{database.run(namespace, 'SELECT pg_terminate_backend(<pid>)')}  {warn}: ends the stale session"
            )
        else:
            steps.append(f"# {find};  then SELECT pg_terminate_backend(<pid>);  {warn}")
    if lock.release_tool:
        steps.append(
            f"{lock.release_tool}  {warn} — the tool's own release, with the application's datasource"
        )
    if lock.lease:
        lease_ns, _, lease_name = lock.lease.partition("/")
        steps.append(f"kubectl get lease {lease_name} -n {lease_ns} -o jsonpath='{{.spec.holderIdentity}}'")
        steps.append(f"kubectl delete lease {lease_name} -n {lease_ns}  {warn}")
    return steps


def lock_explanation(
    view: EvidenceView,
    pod: K8sObject,
    text: str,
    spec: dict[str, object],
    target: str,
    ns: str | None,
    container: str,
    lock: HeldLock,
) -> tuple[float, str, str, list[str], list[Fact]]:
    """Cause, fixes and facts for a process that could not take ``lock`` (shared with init containers)."""
    pods_listed = view.was_read(ReadSpec(verb="list", kind="Pod", namespace=ns).key()) or view.was_read(
        ReadSpec(verb="list", kind="Pod").key()
    )
    holder_state = holder_pod_state(lock, view.objs("Pod", ns)) if pods_listed else None
    holder = lock.holder or "another instance"
    if lock.holder_address:
        holder += f" ({lock.holder_address})"
    if lock.since:
        holder += f" since {lock.since}"
    cause = f"it waits for {lock.lock}, which is held by {holder}, gives up and exits"
    facts = [Fact(f"{lock.tool}: {lock.quote}", src_log(ns or "", name_of(pod), container, True))]
    if holder_state == "gone":
        cause += (
            f"; no pod named {lock.holder} exists in {ns} any more, so the lock is stale: its holder was "
            "stopped before it released it, and every new instance waits on it"
        )
        facts.append(Fact(f"pod {lock.holder} (the lock holder) does not exist", f"list Pod -n {ns}"))
    elif holder_state:
        cause += f"; pod {lock.holder} still exists (phase {holder_state}), so it may still be working"
        facts.append(Fact(f"pod {lock.holder} (the lock holder) is {holder_state}", f"list Pod -n {ns}"))
    database = database_of(spec, text)
    fixes = []
    if lock.holder and holder_state not in (None, "gone"):
        fixes.append(f"kubectl logs {lock.holder}{ns_flag(ns)}  # is the holder still migrating?")
    fixes += release_steps(lock, ns, database)
    fixes.append(f"kubectl rollout restart {target}{ns_flag(ns)}  # after the lock is released")
    return 0.85, "crashloop.lock-held", cause, fixes, facts
