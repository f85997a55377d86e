"""HTML score reports: per unit and period, per period (index) and before/after (campaign).

``model`` builds plain view models from the history store, ``render`` turns them into
self-contained HTML with the Jinja2 templates in ``templates/``, ``svg`` draws the charts,
``cli`` is ``dq report``. See docs/reports.md.
"""
