"""sera-rectify: turn SERA / SWE-agent trajectories into the rectified reasoning / tool_call format.

The conversion rules live in `convert` (one pure function per rule of spec/conversion.md), the
line-level recall in `recall`, source reading in `sources`, and the dbt-facing streaming in `pipeline`.
"""

__version__ = "0.1.0"
