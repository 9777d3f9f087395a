"""Lab hosts cannot see the operator's disk; what a compose project takes from files still arrives.

The project directory sits under the operator's /tmp, which every lab host sees as an empty tmpfs:
env_file, extends and .env are read on the operator's side and reach the containers as values.
"""

import textwrap

import pytest

from tests.integration.deploy_support import IMAGE, DeployProject

pytestmark = pytest.mark.integration


@pytest.fixture
def project(lab, tmp_path):
    p = DeployProject(lab, tmp_path)
    yield p
    p.cleanup()


def test_env_file_extends_and_dotenv_work_on_hosts_that_cannot_see_them(project, lab):
    (project.dir / ".env").write_text("GREETING=hello from .env\n")
    (project.dir / "app.env").write_text("FROM_ENV_FILE=env file value\n")
    (project.dir / "base.yml").write_text(textwrap.dedent(f"""\
        version: "2.4"
        services:
          base:
            image: {IMAGE}
            command: ["sleep", "3600"]
            stop_signal: SIGKILL
            environment: {{FROM_EXTENDS: base value}}
        """))
    (project.dir / "docker-compose.yml").write_text(textwrap.dedent("""\
        version: "2.4"
        services:
          app:
            extends: {file: base.yml, service: base}
            env_file: ./app.env
            environment: {GREETING: "${GREETING}"}
            scale: 3
        """))
    project.ok("up", "-d")
    containers = project.containers()
    assert {host for host, _ in containers.values()} == {h.name for h in lab.cluster.hosts}
    for name, (host, _) in containers.items():
        # The host really is blind to the project directory ...
        seen = lab.exec(host, "ls", str(project.dir / "app.env"))
        assert seen.returncode != 0, f"{host} sees {project.dir}"
        # ... and the container got every value all the same.
        code, env = project.run_in(name, "env")
        assert code == 0
        lines = set(env.splitlines())
        assert {"GREETING=hello from .env", "FROM_ENV_FILE=env file value", "FROM_EXTENDS=base value"} <= lines
