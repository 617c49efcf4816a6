"""``python -m furiosa.server``: the ``furiosa-server`` command."""
from furiosa.server.cli import main

main()
