"""The history store: runs, results, scores, summaries and the delivery record, as Parquet."""
