"""Every bad input: the exact message, exit status 3 (2 for usage), and nothing written anywhere."""

import pytest

LONG = "bad name;rm -rf /"

CASES = [
    ("unknown_key", "version: '3.8'\nservices:\n  web:\n    imgae: nginx\n",
     "docker-compose.yml:4: service 'web': imgae: unknown key (did you mean 'image'?)"),
    ("cycle", "version: '2.4'\nservices:\n  web: {image: x, depends_on: [api]}\n  api: {image: x, links: [web]}\n",
     "dependency cycle: api -> web -> api"),
    ("self_link", "web:\n  image: x\n  links: [web]\n", "dependency cycle: web -> web"),
    ("undefined_link", "version: '2'\nservices:\n  web:\n    image: x\n    links: [dbb]\n  db: {image: x}\n",
     "docker-compose.yml:5: service 'web': links: refers to service 'dbb', which is not defined (did you mean 'db'?)"),
    ("undefined_depends", "version: '3'\nservices:\n  web:\n    image: x\n    depends_on: [db]\n",
     "docker-compose.yml:5: service 'web': depends_on: refers to service 'db', which is not defined"),
    ("undefined_volumes_from", "version: '2'\nservices:\n  web:\n    image: x\n    volumes_from: ['data:ro']\n",
     "docker-compose.yml:5: service 'web': volumes_from: not supported by nap-compose: it needs the other "
     "container on the same host, and replicas are placed across hosts; share a named volume instead"),
    ("undefined_network_mode", "version: '2'\nservices:\n  web:\n    image: x\n    network_mode: 'service:vpn'\n",
     "docker-compose.yml:5: service 'web': network_mode: not supported by nap-compose: every container joins the "
     "cluster's flat network with an address of its own; a network mode would take it off that network (host, "
     "none, bridge) or into another container's namespace on a host it may not share"),
    ("container_name_scaled", "version: '2.4'\nservices:\n  web:\n    image: x\n    scale: 2\n"
                              "    container_name: w\n",
     "docker-compose.yml:6: service 'web': container_name: 'w' is fixed, so the service cannot run 2 replicas; "
     "remove container_name or set scale to 1"),
    ("ipv4_outside", "version: '2.4'\nservices:\n  web:\n    image: x\n    networks:\n      lan:\n"
                     "        ipv4_address: 10.6.0.10\nnetworks:\n  lan:\n    ipam:\n      config:\n"
                     "        - subnet: 10.5.0.0/24\n",
     "docker-compose.yml:7: service 'web': networks.lan.ipv4_address: 10.6.0.10 is outside the subnet of "
     "network 'lan' (10.5.0.0/24)"),
    ("ipv4_last_replica_outside", "version: '2.4'\nservices:\n  web:\n    image: x\n    scale: 3\n    networks:\n"
                                  "      lan:\n        ipv4_address: 10.5.0.254\nnetworks:\n  lan:\n    ipam:\n"
                                  "      config:\n        - subnet: 10.5.0.0/24\n",
     "docker-compose.yml:8: service 'web': networks.lan.ipv4_address: 10.5.0.254 (replica 3 would get 10.5.1.0) "
     "is outside the subnet of network 'lan' (10.5.0.0/24)"),
    ("ipv4_not_an_address", "version: '2.4'\nservices:\n  web:\n    image: x\n    networks:\n      lan:\n"
                            "        ipv4_address: 10.5.0.300\nnetworks:\n  lan: {}\n",
     "docker-compose.yml:7: service 'web': networks.lan.ipv4_address: '10.5.0.300' is not an IPv4 address"),
    ("hostname_chars", f"version: '2.4'\nservices:\n  web:\n    image: x\n    hostname: '{LONG}'\n",
     "docker-compose.yml:5: service 'web': hostname: 'bad name;rm -rf /' is not a valid name (use letters, "
     "digits, '-', '_' and '.', starting with a letter or digit)"),
    ("alias_newline", "version: '2.4'\nservices:\n  web:\n    image: x\n    links: [\"db:a\\nb\"]\n  db: {image: x}\n",
     None),
    ("interpolated_hostname", "version: '2.4'\nservices:\n  web:\n    image: x\n    domainname: '${D}'\n",
     "docker-compose.yml:5: service 'web': domainname: 'x`id`' is not a valid name (use letters, digits, '-', "
     "'_' and '.', starting with a letter or digit)"),
    ("extra_hosts_name", "version: '2.4'\nservices:\n  web:\n    image: x\n    extra_hosts: ['-h:10.0.0.1']\n",
     "docker-compose.yml:5: service 'web': extra_hosts: '-h' is not a valid name (use letters, digits, '-', "
     "'_' and '.', starting with a letter or digit)"),
    ("network_alias", "version: '2.4'\nservices:\n  web:\n    image: x\n    networks:\n      default:\n"
                      "        aliases: ['a$$b']\n",
     "docker-compose.yml:7: service 'web': networks.default.aliases: 'a$b' is not a valid name (use letters, "
     "digits, '-', '_' and '.', starting with a letter or digit)"),
    ("service_name_leading_dash", "version: '2.4'\nservices:\n  -web:\n    image: x\n",
     "docker-compose.yml:3: service '-web': service name: '-web' is not a valid name (use letters, digits, "
     "'-', '_' and '.', starting with a letter or digit)"),
    ("service_name_space", "version: '2.4'\nservices:\n  'my web':\n    image: x\n",
     "docker-compose.yml:3: service name 'my web' is not valid (use letters, digits, '-', '_' and '.')"),
    ("no_image", "version: '3'\nservices:\n  web:\n    command: 'true'\n",
     "docker-compose.yml:3: service 'web': image: neither 'image' nor 'build' is set; one of them is needed"),
    ("ports_type", "version: '3'\nservices:\n  web:\n    image: x\n    ports: {a: 1}\n",
     "docker-compose.yml:5: service 'web': ports: must be a list, not a mapping"),
    ("bad_port", "version: '3'\nservices:\n  web:\n    image: x\n    ports: ['80:80:80:80']\n",
     "docker-compose.yml:5: service 'web': ports: invalid port '80:80:80:80' (write e.g. '80', '8080:80', "
     "'127.0.0.1:8080:80/udp')"),
    ("port_variable_empty", "version: '3'\nservices:\n  web:\n    image: x\n    ports: ['${NOPE-}:80']\n",
     "docker-compose.yml:5: service 'web': ports: invalid port ':80': the host and container ranges differ in "
     "length (the host port before ':' is empty)"),
    ("bad_duration", "version: '3'\nservices:\n  web:\n    image: x\n    stop_grace_period: 10 seconds\n",
     "docker-compose.yml:5: service 'web': stop_grace_period: '10 seconds' is not a duration (write e.g. '10s', "
     "'1m30s', '500ms')"),
    ("bad_mem", "version: '2.4'\nservices:\n  web:\n    image: x\n    mem_limit: lots\n",
     "docker-compose.yml:5: service 'web': mem_limit: 'lots' is not a size (write e.g. '512m', '1g' or a number "
     "of bytes)"),
    ("scale_and_replicas", "version: '3.8'\nservices:\n  web:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n",
     "docker-compose.yml:5: service 'web': scale: both scale and deploy.replicas are set; set only one of them"),
    ("negative_scale", "version: '2.4'\nservices:\n  web:\n    image: x\n    scale: -1\n",
     "docker-compose.yml:5: service 'web': scale: must be an integer >= 0, not -1"),
    ("duplicate_key", "version: '3'\nservices:\n  web:\n    image: x\n    image: y\n",
     "docker-compose.yml:5: duplicate key 'image' (first defined on line 4)"),
    ("undefined_network", "version: '3'\nservices:\n  web:\n    image: x\n    networks: [back]\nnetworks:\n  bak: {}\n",
     "docker-compose.yml:5: service 'web': networks: uses network 'back', which is not defined under the "
     "top-level networks (did you mean 'bak'?)"),
    ("undeclared_volume", "version: '3'\nservices:\n  web:\n    image: x\n    volumes: ['data:/data']\n",
     "docker-compose.yml:5: service 'web': volumes: named volume 'data' is used but not declared under the "
     "top-level volumes"),
    ("depends_condition", "version: '2.4'\nservices:\n  web:\n    image: x\n    depends_on:\n      db:\n"
                          "        condition: started\n  db: {image: x}\n",
     "docker-compose.yml:7: service 'web': depends_on.db.condition: must be one of 'service_started', "
     "'service_healthy', 'service_completed_successfully', not the string 'started'"),
    ("extends_missing", "version: '2.4'\nservices:\n  web:\n    extends: {service: nothere}\n",
     "docker-compose.yml:4: service 'web': extends service 'nothere', which is not defined"),
    ("extends_cycle", "version: '2.4'\nservices:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n",
     "docker-compose.yml:4: service 'b': circular extends: docker-compose.yml:a -> docker-compose.yml:b -> "
     "docker-compose.yml:a"),
    ("extends_itself_through_its_file", "version: '2.4'\nservices:\n  web:\n    image: x\n"
                                        "    extends: {file: docker-compose.yml, service: web}\n",
     "docker-compose.yml:5: service 'web': circular extends: docker-compose.yml:web -> docker-compose.yml:web"),
    ("extends_loop_through_its_file", "version: '2.4'\nservices:\n  a:\n    image: x\n"
                                      "    extends: {file: ./docker-compose.yml, service: b}\n"
                                      "  b: {image: x, extends: a}\n",
     "docker-compose.yml:6: service 'b': circular extends: docker-compose.yml:a -> docker-compose.yml:b -> "
     "docker-compose.yml:a"),
    ("extends_linked_base", "version: '2.4'\nservices:\n  base: {image: x, links: [db]}\n  db: {image: x}\n"
                            "  web: {extends: base}\n",
     "docker-compose.yml: service 'base' cannot be extended: it has 'links', which may only be set in the "
     "extending service"),
    ("python_tag", "version: '3'\nservices:\n  web: {image: !!python/object/apply:os.getcwd []}\n",
     "docker-compose.yml:3:16: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.getcwd'"),
    ("yaml_syntax", "version: '3'\nservices:\n  web: {image: x\n",
     "docker-compose.yml:4:1: while parsing a flow mapping, expected ',' or '}', but got '<stream end>'"),
    ("env_file_missing", "version: '3'\nservices:\n  web:\n    image: x\n    env_file: missing.env\n", None),
    ("xnap_unknown", "version: '3.8'\nservices:\n  web:\n    image: x\n    x-nap:\n      hostz: [n1]\n",
     "docker-compose.yml:6: service 'web': x-nap.hostz: unknown key (did you mean 'hosts'?) (x-nap knows "
     "strategy, hosts, affinity, anti_affinity, max_per_host)"),
    ("xnap_strategy", "version: '3.8'\nx-nap:\n  strategy: spred\nservices:\n  web: {image: x}\n",
     "docker-compose.yml:3: top level: x-nap.strategy: 'spred' is not one of spread, binpack, random "
     "(did you mean 'spread'?)"),
    ("xnap_max_per_host", "version: '3.8'\nservices:\n  web:\n    image: x\n    x-nap: {max_per_host: 0}\n",
     "docker-compose.yml:5: service 'web': x-nap.max_per_host: must be an integer >= 1, not 0"),
    ("xnap_unknown_affinity", "version: '3.8'\nservices:\n  web:\n    image: x\n    x-nap: {affinity: [dbb]}\n"
                              "  db: {image: x}\n",
     "docker-compose.yml:5: service 'web': x-nap: refers to service 'dbb', which is not defined (did you mean "
     "'db'?)"),
]


@pytest.mark.parametrize("name,text,message", CASES, ids=[c[0] for c in CASES])
def test_bad_file(cli, name, text, message, tmp_path):
    cli.write({"docker-compose.yml": text})
    status, out, err = cli.run("config", environ={"D": "x`id`"})
    assert (status, out) == (3, "")
    if message is None:  # messages holding the temporary path
        message = {
            "alias_newline": "docker-compose.yml:5: service 'web': links: 'a\\nb' is not a valid name (use "
                             "letters, digits, '-', '_' and '.', starting with a letter or digit)",
            "env_file_missing": f"docker-compose.yml:5: service 'web': env_file: missing.env not found (looked "
                                f"for {tmp_path}/missing.env)",
        }[name]
    assert err == f"ERROR: {message}\n"


def test_missing_file_is_a_config_error(cli):
    status, out, err = cli.run("-f", "nope.yml", "config")
    assert (status, out, err) == (3, "", "ERROR: compose file nope.yml not found\n")


def test_no_default_file(cli, tmp_path):
    status, out, err = cli.run("config")
    assert status == 3 and out == ""
    assert err.startswith(f"ERROR: no compose file found in {tmp_path} or its parents")


def test_bad_format_option_is_a_usage_error(cli):
    cli.write({"docker-compose.yml": "web: {image: x}\n"})
    status, out, err = cli.run("config", "--format", "toml")
    assert (status, out) == (2, "")
    assert "invalid choice: 'toml'" in err


def test_unusable_project_name_is_a_usage_error(cli):
    cli.write({"docker-compose.yml": "web: {image: x}\n"})
    status, out, err = cli.run("-p", "!!!", "config", "-q")
    assert (status, out, err) == (2, "", "ERROR: project name '!!!' has no letters or digits; pass -p NAME\n")


SECRET = "root:$y$j9T$Qm0ZsecretHASHvalue$Zx:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n"


@pytest.mark.parametrize("key,text,where", [
    ("env_file", "services:\n  web:\n    image: x\n    env_file: {secret}\n",
     "{secret}:1: invalid variable name"),
    ("extends", "services:\n  web:\n    image: x\n    extends: {{file: {secret}, service: a}}\n",
     "{secret}:1: service name"),
])
def test_a_file_outside_the_project_is_never_quoted_in_an_error(cli, tmp_path, key, text, where):
    # a file the operator can read, named by a compose file someone else wrote: the error names the
    # file and the line, and prints nothing of what the file holds
    secret = tmp_path.parent / f"{tmp_path.name}-shadow"
    secret.write_text(SECRET)
    cli.write({"docker-compose.yml": text.format(secret=secret)})
    before = sorted(p.name for p in tmp_path.iterdir())
    status, out, err = cli.run("config")
    assert status == 3 and out == ""
    assert err.startswith(f"ERROR: {where.format(secret=secret)} (not shown: it is not a name, and the file "
                          "may hold secrets)")
    rest = err.replace(str(secret), "")
    assert not any(word in rest for word in ("root", "daemon", "20228", "HASH", "$y$"))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_plain_bad_variable_name_is_still_shown(cli):
    cli.write({"docker-compose.yml": "services:\n  web:\n    image: x\n    env_file: web.env\n",
               "web.env": "MY VAR=1\n"})
    status, _, err = cli.run("config")
    assert (status, err) == (3, "ERROR: web.env:1: invalid variable name 'MY VAR' in environment file\n")
