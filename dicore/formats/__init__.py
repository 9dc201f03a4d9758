"""One module per file format dicore reads or writes (the only place each is parsed).

atomic (the write-then-rename helper), results, metrics_json, sweeps_json, defence_csv,
scores_csv, calibration_json, provenance_json. The pure core never imports these.
"""
