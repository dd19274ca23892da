"""`tally kpi`: the KPIs the stream computes, read from Prometheus or the workers' /metrics.

`sections` defines each KPI section (the counts it reads, how it turns them into rows, how
a row prints); `read` gathers the counts from a source; `report` puts them together.
"""
