"""The edges: file formats in and out."""

from leadflow.io.playbooks import (
    load_playbook,
    playbook_from_dict,
    playbook_from_toml,
    playbook_to_dict,
)

__all__ = ["load_playbook", "playbook_from_dict", "playbook_from_toml", "playbook_to_dict"]
