"""Kafka for a real deployment: SASL/SCRAM over TLS, one principal per process kind, ACLs.

What a secured cluster needs, as code the test of it runs (tests/ops/test_kafka_security.py)
and an operator can read (docs/OPERATING.md, Security):
- `principal_acls`: what each principal may do (gateway, worker, orders; the pushers read
  Redis only and get no Kafka principal). Anything not granted is refused.
- `SecureKafka`: a broker with a SASL_SSL client listener, SCRAM users created at format
  time, the StandardAuthorizer with `admin` as the only super user beside the controller
  listener (PLAINTEXT: keep it on loopback or a private network, never reachable by clients).
- `make_tls`: a CA and a broker certificate (openssl), for a test or a first setup.
- `create_acls`: the ACLs through Kafka's own Admin client (ops/kafka/CreateAcls.java).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

from pydantic import SecretStr

from base.kafka_client import client_options
from base.settings import REPO_ROOT, KafkaSettings, Settings
from ops.stack.kafka import Kafka, libs_dir, round_trip, server_properties
from ops.stack.procs import StackError
from ops.stack.service import require_binary, run_coroutine

ACL_TOOL = REPO_ROOT / "ops" / "kafka" / "CreateAcls.java"
ADMIN = "admin"
PRINCIPALS = ("gateway", "worker", "orders")
TOOL_TIMEOUT_S = 120.0


class Acl(NamedTuple):
    principal: str  # "User:gateway"
    resource_type: str  # TOPIC | GROUP | TRANSACTIONAL_ID | CLUSTER
    name: str
    pattern: str  # LITERAL | PREFIXED
    operation: str  # READ | WRITE | DESCRIBE | ALL ...


def _topic(principal: str, topic: str, *operations: str) -> list[Acl]:
    return [Acl(f"User:{principal}", "TOPIC", topic, "LITERAL", op) for op in operations]


def _own(principal: str, app_id: str) -> list[Acl]:
    """A Faust app's own topics (changelogs, its assignor's), group and transactions."""
    user = f"User:{principal}"
    return [
        Acl(user, "TOPIC", f"{app_id}-", "PREFIXED", "ALL"),
        Acl(user, "GROUP", app_id, "PREFIXED", "ALL"),
        Acl(user, "TRANSACTIONAL_ID", app_id, "PREFIXED", "ALL"),
    ]


def principal_acls(settings: Settings) -> list[Acl]:
    """Least privilege for each principal: what its process reads and writes, no more.

    The gateway writes facts, commands, channel policy and orders and reads decisions and
    policy; it can never write a decision. The worker reads facts, commands and policy and
    writes decisions, dead letters and its own `expire` commands. The order processor reads
    its logs, decisions and policy and writes commands, facts and its logs.
    """
    topics = settings.topics
    read, write = ("READ", "DESCRIBE"), ("WRITE", "DESCRIBE")
    gateway = [
        *(acl for t in (topics.events, topics.commands, topics.policy, topics.orders)
          for acl in _topic("gateway", t, *write)),
        *(acl for t in (topics.decisions, topics.policy) for acl in _topic("gateway", t, *read)),
    ]  # fmt: skip
    worker = [
        *(acl for t in (topics.events, topics.commands, topics.policy)
          for acl in _topic("worker", t, *read)),
        *(acl for t in (topics.decisions, topics.dlq, topics.commands)
          for acl in _topic("worker", t, *write)),
        *_own("worker", settings.worker.app_id),
    ]  # fmt: skip
    orders = [
        *(acl for t in (topics.orders, topics.capacity, topics.decisions, topics.policy)
          for acl in _topic("orders", t, *read)),
        *(acl for t in (topics.orders, topics.capacity, topics.commands, topics.events)
          for acl in _topic("orders", t, *write)),
        *_own("orders", settings.orders.app_id),
    ]  # fmt: skip
    return [*gateway, *worker, *orders]


class TlsFiles(NamedTuple):
    ca_cert: Path
    broker_pem: Path  # the broker's private key (PKCS#8) and certificate chain


def make_tls(directory: Path, host: str) -> TlsFiles:
    """A CA and a broker certificate for `host` (an IP address or a name), with openssl."""
    openssl = require_binary("kafka", "openssl", "install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "broker.key", directory / "broker.csr", directory / "broker.crt"
    san = f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "30",
         "-subj", "/CN=tally-test-ca"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={host}"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "30", "-extfile", "/dev/stdin"],
    ]  # fmt: skip
    for argv in steps:
        extension = f"subjectAltName={san}\n" if "-extfile" in argv else None
        subprocess.run(
            [str(part) for part in argv],
            input=extension,
            capture_output=True,
            text=True,
            check=True,
            timeout=TOOL_TIMEOUT_S,
        )
    broker_pem = directory / "broker.pem"
    broker_pem.write_text(key.read_text() + cert.read_text() + ca_cert.read_text())
    broker_pem.chmod(0o600)
    return TlsFiles(ca_cert, broker_pem)


def _jaas(username: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


class SecureKafka(Kafka):
    """The local stack's broker with a SASL_SSL client listener, SCRAM users and ACLs on.

    `passwords`: principal -> password, `admin` among them (the broker's own principal and
    the only super user). The settings' kafka section names the admin's credentials.
    """

    def __init__(self, settings: Settings, tls: TlsFiles, passwords: dict[str, str]) -> None:
        super().__init__(settings)
        self.tls = tls
        self.passwords = passwords

    def properties(self) -> str:
        kafka, mechanism = self.settings.kafka, self.settings.kafka.sasl_mechanism
        listener = f"SASL_SSL://{kafka.host}:{kafka.port}"
        secured = {
            "listeners": f"{listener},CONTROLLER://{kafka.host}:{kafka.controller_port}",
            "advertised.listeners": listener,
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": mechanism,
            "sasl.mechanism.inter.broker.protocol": mechanism,
            f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config": _jaas(
                ADMIN, self.passwords[ADMIN]
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.broker_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_cert),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # ANONYMOUS: the broker's own requests over the (PLAINTEXT) controller listener.
            "super.users": f"User:{ADMIN};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }
        plain = server_properties(self.settings, self.data_dir)
        kept = [
            line
            for line in plain.splitlines()
            if line.split("=", 1)[0] not in secured and not line.startswith("#")
        ]
        lines = [*kept, *(f"{key}={value}" for key, value in secured.items())]
        return (
            "# Generated for a SASL_SSL broker; edits are overwritten.\n" + "\n".join(lines) + "\n"
        )

    def format_args(self) -> list[str]:
        mechanism = self.settings.kafka.sasl_mechanism
        args: list[str] = []
        for name, password in self.passwords.items():
            args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args

    def probe(self) -> bool:
        options = client_options(self.settings.kafka)
        topic = self.settings.stack.healthcheck_topic
        return run_coroutine(
            round_trip("", topic, self.settings.stack.probe_timeout_s, options=options)
        )


def as_principal(kafka: KafkaSettings, name: str, password: str) -> KafkaSettings:
    """The same cluster, connected as another principal."""
    return kafka.model_copy(update={"sasl_username": name, "sasl_password": SecretStr(password)})


def create_acls(settings: Settings, acls: list[Acl], work_dir: Path) -> None:
    """Create `acls` with the settings' (admin) principal, through Kafka's Admin client."""
    kafka = settings.kafka
    work_dir.mkdir(parents=True, exist_ok=True)
    client = work_dir / "admin.properties"
    client.write_text(
        "\n".join(
            [
                f"bootstrap.servers={kafka.bootstrap}",
                "security.protocol=SASL_SSL",
                f"sasl.mechanism={kafka.sasl_mechanism}",
                "sasl.jaas.config="
                + _jaas(kafka.sasl_username, kafka.sasl_password.get_secret_value()),
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={kafka.ssl_cafile}",
            ]
        )
        + "\n"
    )
    client.chmod(0o600)
    acl_file = work_dir / "acls.tsv"
    acl_file.write_text("".join("\t".join(acl) + "\n" for acl in acls))
    java = require_binary("kafka", "java", "install Java 17+ (ops/bootstrap.sh does)")
    argv = [java, "-cp", f"{libs_dir(settings)}/*", str(ACL_TOOL), str(client), str(acl_file)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    if done.returncode != 0:
        raise StackError(f"kafka: creating ACLs failed:\n{done.stderr[-2000:]}")
