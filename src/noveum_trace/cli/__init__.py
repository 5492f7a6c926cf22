"""The ``noveum-trace`` command: an offline demo and views of trace files.

One module per subcommand (show, tail, stats, export, demo, delegate), ``source`` for the
streamed scan and filters, ``fmt`` for terminal output; ``main`` wires them together.
"""
