"""A single-node Kafka 4.x in KRaft mode, from Maven Central jars, data in <checkout>/.data/kafka."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from .config import HOST, KAFKA_VERSION, Config
from .procs import (
    InfraError,
    LaunchedServer,
    check_port_free,
    locked,
    port_answers,
    process_tree,
)

POM = Path(__file__).with_name("kafka-pom.xml")

PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dirs}
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
# One node: internal topics must not wait for replicas that will never exist, otherwise
# consumer groups, transactions and share groups hang.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests start many short-lived groups: do not wait 3 s for more members to join.
group.initial.rebalance.delay.ms=0
# Two cores shared with everything else: the defaults' 3 network and 8 I/O threads only
# take turns. With 1 and 2 (and the serial collector) the broker spends less CPU per
# booking (CHANGELOG.md).
num.network.threads=1
num.io.threads=2
background.threads=2
"""

LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
# A line or more per partition created, deleted or recovered at start: tests create
# hundreds of topics, which at INFO would grow this log by hundreds of MB a day.
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.storage.name = org.apache.kafka.storage
logger.storage.level = WARN
logger.partition.name = kafka.cluster
logger.partition.level = WARN
logger.coordinator.name = org.apache.kafka.coordinator
logger.coordinator.level = WARN
"""


class Kafka(LaunchedServer):
    name = "kafka"
    title = f"Kafka {KAFKA_VERSION}"
    noun = "broker"
    ready_timeout = 120
    ready_interval = 0.3
    stop_grace = 30  # SIGTERM = controlled shutdown

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.props = self.base / "server.properties"
        self.log_dirs = self.base / "data"
        self.libs = cfg.cache / "kafka" / KAFKA_VERSION / "libs"
        self.marker = self.props
        self.strays_marked_by = ("kafka.Kafka", f" {self.props}")

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.kafka_port} (controller {HOST}:{self.cfg.kafka_controller_port})"

    # --- state -------------------------------------------------------------

    def answers(self) -> bool:
        if not port_answers(self.cfg.kafka_port):
            return False  # cheap pre-check; also keeps librdkafka from logging refusals
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        quiet = logging.getLogger("infra.kafka")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        # The stubs leave out that librdkafka's "logger" takes a logging.Logger.
        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap,
                             "logger": quiet})  # type: ignore[dict-item]
        try:
            admin.list_topics(timeout=2)
        except KafkaException:  # not ready yet
            return False
        return True

    def check_port(self) -> None:
        pid = self.pid()
        ours = set(process_tree(pid)) if pid else set()
        check_port_free(self.name, self.cfg.kafka_port, ours)
        check_port_free(f"{self.name} controller", self.cfg.kafka_controller_port, ours)

    # --- artifacts ---------------------------------------------------------

    def ensure_jars(self) -> str:
        """Fetch the broker jars once into the shared cache; returns what happened."""
        done = self.libs.parent / ".complete"
        if done.exists():
            return "cached"
        with locked(self.libs.parent.parent / ".lock"):
            if done.exists():
                return "cached (fetched by a concurrent run)"
            mvn = shutil.which("mvn")
            if not mvn:
                raise InfraError(
                    "kafka: Maven (mvn) is not installed and the jars are not cached yet"
                )
            self.libs.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.libs.parent) as tmp:
                pom = Path(tmp) / "pom.xml"
                pom.write_text(POM.read_text().replace("@KAFKA_VERSION@", KAFKA_VERSION))
                out = Path(tmp) / "libs"
                result = subprocess.run(
                    [
                        mvn,
                        "-B",
                        "-q",
                        "-f",
                        str(pom),
                        "dependency:copy-dependencies",
                        "-DincludeScope=runtime",
                        f"-DoutputDirectory={out}",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0 or not list(out.glob("kafka_2.13-*.jar")):
                    raise InfraError(
                        f"kafka: Maven could not fetch org.apache.kafka:kafka_2.13:{KAFKA_VERSION} "
                        "(download refused or offline?):\n"
                        + (result.stdout + result.stderr)[-3000:]
                    )
                shutil.rmtree(self.libs, ignore_errors=True)
                out.rename(self.libs)
            done.write_text(KAFKA_VERSION + "\n")
        return "fetched with Maven"

    @staticmethod
    def check_java() -> str:
        java = shutil.which("java")
        if not java:
            raise InfraError(
                "kafka: java is not installed (Kafka 4 needs Java 17+): apt-get install openjdk-17-jre-headless"
            )
        result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        match = re.search(r'version "(\d+)', result.stderr)
        if not match or int(match.group(1)) < 17:
            raise InfraError(
                f"kafka: Kafka 4 needs Java 17+, found: {result.stderr.splitlines()[:1]}"
            )
        return java

    # --- start and stop ----------------------------------------------------

    def _java(self, main: str, *args: str, heap: str = "512m") -> list[str]:
        # C1 only: the broker is ready in ~5 s instead of ~9 s on 2 cores, since C2 compiler
        # threads no longer compete with startup. Peak throughput is lower, which tests do
        # not notice; set CINEMA_KAFKA_FULL_JIT=1 for benchmarks.
        jit = [] if os.environ.get("CINEMA_KAFKA_FULL_JIT") == "1" else ["-XX:TieredStopAtLevel=1"]
        return [
            self.check_java(),
            *jit,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseSerialGC",  # a 512 MB heap on 2 busy cores: no concurrent GC threads
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.base / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.base}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def prepare(self) -> None:
        """Write the configuration, and format the storage the first time."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.props.write_text(
            PROPERTIES.format(
                host=HOST,
                port=self.cfg.kafka_port,
                controller_port=self.cfg.kafka_controller_port,
                log_dirs=self.log_dirs,
            )
        )
        (self.base / "log4j2.properties").write_text(LOG4J)
        if (self.log_dirs / "meta.properties").exists():
            return
        # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.props),
                "--ignore-formatted",
                heap="256m",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise InfraError(f"kafka: formatting the storage failed:\n{output}")

    def argv(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.props))
