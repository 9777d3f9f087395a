"""The strict YAML loader: safe tags only, duplicate keys refused, bounded size and alias expansion.

Mappings and sequences come back as ``Map``/``Seq`` (dict/list subclasses) that remember the line of
each key or item, so later checks can point at the line a value came from.
"""

from __future__ import annotations

import yaml

from napcompose.errors import ConfigError

MAX_FILE_BYTES = 4 * 1024 * 1024
# Nodes a document may expand to once aliases are followed; a "billion laughs" file needs far more.
MAX_EXPANDED_NODES = 2_000_000
MAX_INT_BITS = 4096


class Map(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    __slots__ = ("line", "lines")

    def __init__(self, *args, line=None, lines=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.line = line
        self.lines = lines if lines is not None else {}


class Seq(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "lines")

    def __init__(self, *args, line=None, lines=None):
        super().__init__(*args)
        self.line = line
        self.lines = lines if lines is not None else []


def line_of(container, key=None):
    """The line of ``container[key]`` (or of the container itself), or None when unknown."""
    if key is not None:
        if isinstance(container, Map):
            return container.lines.get(key, container.line)
        if isinstance(container, Seq) and isinstance(key, int) and key < len(container.lines):
            return container.lines[key]
    return getattr(container, "line", None)


class _Strict:
    """Safe construction with duplicate-key refusal and an expansion bound; keys and items keep their lines."""

    def get_single_node(self):
        node = super().get_single_node()
        _check_expansion(node, self.name)
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            # A scalar the resolver typed but cannot build: a date such as 2001-13-45, ``!!int x``,
            # an integer of thousands of digits. Reported at the value, like any other YAML error.
            reason = "it has too many digits" if "digits" in str(exc) else str(exc)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {_short(node.value)}: {reason}", node.start_mark) from None

    def construct_yaml_int(self, node):
        value = super().construct_yaml_int(node)
        # Python cannot even print an integer of more than 4300 digits; no compose value comes near.
        if value.bit_length() > MAX_INT_BITS:
            raise ValueError(f"more than {MAX_INT_BITS} bits")
        return value

    def construct_yaml_map(self, node):
        data = Map(line=node.start_mark.line + 1)
        yield data
        own = {id(k) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)  # resolves "<<" merge keys the way SafeLoader does
        seen = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                raise ConfigError(f"{self.name}:{line}: a mapping key must be a scalar") from None
            if id(key_node) in own:  # keys merged in by "<<" may be overridden by the mapping's own keys
                if key in seen:
                    raise ConfigError(f"{self.name}:{line}: duplicate key {key!r} (first defined on line "
                                      f"{seen[key]})")
                seen[key] = line
                data.pop(key, None)
            data[key] = self.construct_object(value_node, deep=True)
            data.lines[key] = line

    def construct_yaml_seq(self, node):
        data = Seq(line=node.start_mark.line + 1)
        yield data
        for child in node.value:
            data.append(self.construct_object(child, deep=True))
            data.lines.append(child.start_mark.line + 1)


class _PureLoader(_Strict, yaml.SafeLoader):
    pass


# libyaml's parser is about ten times faster. It is stricter about a few escapes than PyYAML's own,
# so a document it refuses is read again by the pure-Python parser, which also words the errors.
_FastLoader = type("_FastLoader", (_Strict, getattr(yaml, "CSafeLoader", yaml.SafeLoader)), {})

for _cls in (_PureLoader, _FastLoader):
    _cls.add_constructor("tag:yaml.org,2002:map", _Strict.construct_yaml_map)
    _cls.add_constructor("tag:yaml.org,2002:seq", _Strict.construct_yaml_seq)
    _cls.add_constructor("tag:yaml.org,2002:int", _Strict.construct_yaml_int)


def _short(value):
    text = repr(value) if isinstance(value, str) else "here"
    return text if len(text) <= 40 else text[:37] + "..."


def _check_expansion(root, name):
    """Refuse documents whose alias-expanded size exceeds MAX_EXPANDED_NODES (shared nodes counted once per use)."""
    if root is None:
        return
    sizes = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        children = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children.extend((k, v))
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        if done:
            if any(sizes[id(c)] is None for c in children):  # still open: an ancestor of ``node``
                raise ConfigError(
                    f"{name}:{node.start_mark.line + 1}: an alias here refers to a node that contains it; "
                    "a recursive structure cannot be loaded")
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                raise ConfigError(
                    f"{name}: the document expands to more than {MAX_EXPANDED_NODES} nodes through "
                    "aliases; refusing to load it")
            sizes[key] = total
            continue
        sizes[key] = None  # open until its children are counted (an alias may point back at it)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def load_text(text: str, filename: str):
    """Parse one YAML document strictly; return Map/Seq/scalars. Raises ConfigError with file, line, column."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ConfigError(f"{filename}: the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        return _load_with(_FastLoader, text, filename)
    except yaml.YAMLError:
        pass
    try:
        return _load_with(_PureLoader, text, filename)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}, {exc.problem}"
        raise ConfigError(f"{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: {exc}") from None


def _load_with(cls, text, filename):
    loader = cls(text)
    loader.name = filename  # the C parser has no name of its own; messages use this one
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_file(path: str, display: str = None) -> str:
    """Read a compose file's text, bounded in size; errors name the file."""
    display = display or path
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read the file: {exc.strerror}") from None
    except ValueError:  # open() refuses a path holding a NUL byte
        raise ConfigError(f"{display!r}: cannot read the file: the name holds a NUL character") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{display}: the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text (byte {exc.start})") from None
