"""``noveum-trace ui``: a local trace viewer in the browser (the ``[ui]`` extra).

``index`` keeps a DuckDB index of the trace files, read incrementally by byte offset;
``queries`` answers the pages (and ``noveum-trace stats`` on large directories) from it;
``conversation`` turns an LLM span's content into messages; ``server`` is the Starlette app
and ``command`` the CLI entry. Only ``command`` is imported without the extra installed.
"""
