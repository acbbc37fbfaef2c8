"""sera-rectify: turn SERA / SWE-agent trajectories into the rectified reasoning / tool_call format.

The conversion rules live in `convert` (one pure function per rule of spec/conversion.md), the
line-level recall in `recall`, the SFT-ready variant in `sft`. Around them: `sources` reads the source
files, `rows` turns one source row into one output row, `chunks` plans the work, `workers` runs it in
processes, `parts` writes the converted rows as Parquet parts, `export` and `atomic` write the files a
user gets. The `python -m sera_rectify` commands: `convert_file`, `download`, `card`.
"""

__version__ = "0.1.0"
