"""Session events: appended in the transaction that makes the change, published after commit.

Every `type` and `data` is the contract's *Event schema (openapi/queueit.yaml); `data` is built
from the generated models in JSON mode, so its dates are already wire strings.
"""
