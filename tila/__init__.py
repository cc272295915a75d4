"""Tila's composition root: the `tila` command, the five services put together, the gateway and the demo."""
