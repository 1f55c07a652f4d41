"""Reports: figures (seaborn) and one self-contained HTML page (jinja2) per set of runs."""
