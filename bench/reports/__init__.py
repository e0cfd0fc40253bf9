"""Reports: everything made from the results files alone, never from a run in memory. Which
runs may be compared (`comparison`), statistics over seeds and the ranking (`statistics`),
the ranked tables (`tables`: summary.csv, ranking.md, ranking.tex), the one-page report
(`html`: report.html, from `templates/`), two results side by side (`compare`), the figures
(`plots/`) and MLflow tracking (`tracking`).

May import: every layer before it; nothing before imports a report.

Adding a figure: a function in one of `plots/`'s modules that takes the comparison's frames
and returns a matplotlib figure (or raises `plots.base.Missing` when its column is empty), and
one entry (title, caption, draw) in `plots.catalog.FIGURES`; `bench plot`, report.html and the
reference list it from there.
"""
