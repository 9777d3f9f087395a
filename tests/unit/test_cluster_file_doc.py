"""docs/cluster-file.md names every key the cluster file parser accepts, and its example file parses."""

import pathlib
import re

import napcompose.cluster as parser
from napcompose.cluster import parse_cluster

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md"

# The parser's lists of accepted keys, per section as the doc's headings name them.
SECTIONS = {
    "## Top level": "_TOP_KEYS",
    "## `network`": "_NETWORK_KEYS",
    "### `network.resolver`": "_RESOLVER_KEYS",
    "## `store`": "_STORE_KEYS",
    "## `ssh`": "_SSH_KEYS",
    "## `hosts[]`": "_HOST_KEYS",
    "## `lock`": "_LOCK_KEYS",
}


def sections():
    text = DOC.read_text()
    found = {}
    for heading in SECTIONS:
        start = text.index(heading)
        end = text.find("\n#", start + len(heading))
        found[heading] = text[start:end if end > 0 else len(text)]
    return found


def test_every_accepted_key_has_a_row_in_its_section():
    found = sections()
    for heading, name in SECTIONS.items():
        rows = set(re.findall(r"^\| `([a-z_]+)` \|", found[heading], re.M))
        accepted = set(getattr(parser, name))
        assert rows == accepted, (heading, sorted(accepted - rows), sorted(rows - accepted))


def test_the_example_file_parses_with_every_key(tmp_path):
    text = DOC.read_text()
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    cluster = parse_cluster(example, str(tmp_path / "nap-cluster.yml"))
    assert [h.name for h in cluster.hosts] == ["node1", "node2", "node3", "node4"]
    assert cluster.store.ca_cert == str(tmp_path / "pki" / "ca.pem")
    assert cluster.hosts[1].ssh.port == 2222 and cluster.hosts[1].ssh.key_file == str(tmp_path / "id_ed25519")
    assert cluster.network.resolver.upstream == ("192.168.10.1",)
    used = set(re.findall(r"^\s*(?:- )?([a-z_]+):", example, re.M))
    used |= set(re.findall(r"[{,] ?([a-z_]+):", example))
    every = set().union(*(getattr(parser, name) for name in SECTIONS.values()))
    assert every <= used, sorted(every - used)
