"""`mes adapters browse`: list a server's variables and draft a node map for config/lines/*.toml."""
from __future__ import annotations

import re
from dataclasses import dataclass

from asyncua import Client, Node, ua

MAX_DEPTH = 8
MAX_VARIABLES = 2000
GUESSES = (("running", "running"), ("state", "state"), ("good", "good_count"), ("reject", "reject_count"),
           ("serial", "loaded_serial"), ("recipe", "recipe"))


@dataclass(frozen=True)
class Variable:
    path: str
    node: str
    data_type: str


async def browse(endpoint: str, timeout: float = 5.0) -> list[Variable]:
    """Every variable under Objects (outside the standard namespace 0), with its node id and data type."""
    found: list[Variable] = []
    async with Client(endpoint, timeout=timeout) as client:
        uris = await client.get_namespace_array()
        await _walk(client.nodes.objects, "", 0, found, uris)
    return found


async def _walk(node: Node, path: str, depth: int, found: list[Variable], uris: list[str]) -> None:
    if depth > MAX_DEPTH or len(found) >= MAX_VARIABLES:
        return
    for child in await node.get_children():
        if child.nodeid.NamespaceIndex == 0:
            continue  # the server's own address space
        name = (await child.read_browse_name()).Name
        here = f"{path}/{name}" if path else name
        if await child.read_node_class() == ua.NodeClass.Variable:
            data_type = await child.read_data_type()
            type_name = ua.ObjectIdNames.get(data_type.Identifier, str(data_type)) if data_type.NamespaceIndex == 0 \
                else str(data_type)
            found.append(Variable(here, _node_text(child.nodeid, uris), type_name))
        await _walk(child, here, depth + 1, found, uris)


def _node_text(node_id: ua.NodeId, uris: list[str]) -> str:
    """The node id as configuration writes it; namespaces above the server's own by URI, which survives restarts."""
    text = node_id.to_string()
    if node_id.NamespaceIndex > 1 and node_id.NamespaceIndex < len(uris):
        return re.sub(r"^ns=\d+;", f"nsu={uris[node_id.NamespaceIndex]};", text)
    return text


def draft_node_map(variables: list[Variable]) -> str:
    """A TOML draft of `[[machines.tags]]` entries, meanings guessed from names (check them)."""
    lines = []
    for v in variables:
        name = re.sub(r"[^a-z0-9]+", "_", v.path.rsplit("/", 1)[-1].lower()).strip("_") or "tag"
        if not name[0].isalpha():
            name = f"tag_{name}"
        meaning = next((m for key, m in GUESSES if key in name), "process_value")
        node = v.node.replace("'", "\\'")
        lines += ["  [[machines.tags]]", f'  name = "{name}"', f"  node = '{node}'", f'  meaning = "{meaning}"',
                  f'  data_type = "{v.data_type}"', ""]
    return "\n".join(lines)
