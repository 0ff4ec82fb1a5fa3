"""Operations on plain lxml data trees: subtree and XPath filters, merging.

Used by the NETCONF server and by the native sources (the snapshot source filters its files
with them), so nothing here imports ``agent.server``.  The schema (``agent.schema``) is
optional everywhere: with it, list keys and config/state are known; without it the
functions fall back to documented structural rules.
"""

from agent.datatree.copying import append_copy
from agent.datatree.merge import merge_into, strip_config_false, strip_state
from agent.datatree.subtree import filter_selects, subtree_filter
from agent.datatree.xpath import xpath_filter, xpath_selects

__all__ = [
    "append_copy",
    "filter_selects",
    "merge_into",
    "strip_config_false",
    "strip_state",
    "subtree_filter",
    "xpath_filter",
    "xpath_selects",
]
