"""The ``noveum-trace`` command: an offline demo, views of trace files, and ``send``.

A command, not an API: nothing here is meant to be imported by applications. One module per
subcommand (show, tail, stats, export, demo, send), ``source`` for the streamed scan and the
filters, ``fmt`` for terminal output; ``main`` wires them together. Trace files are read with
``noveum_trace.reader`` and spans drawn with ``noveum_trace._render`` (shared with the console
exporter).
"""
