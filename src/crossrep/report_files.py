"""The report's tables and figures: file names and titles, in one registry that the report
rule (its outputs and Snakemake report captions), the report step, ``crossrep.reports``, the
study's report and the page all read. Plain data: Snakemake imports it when it parses.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    stem: str      # reports/tables/<stem>.md (laid out like the paper) and .csv (the numbers)
    title: str     # the table's heading in the .md, on the page and in Snakemake's report
    caption: str   # workflow/report/<caption>: its text in Snakemake's report


TABLES = (
    Table("table3", "Table III: 2D CNN on clean spectrograms", "tables.rst"),
    Table("table4", "Table IV: 1D CNN on original audio and on audio rebuilt from clean STFT", "tables.rst"),
    Table("table5", "Table V: 2D CNN on adversarial spectrograms", "tables.rst"),
    Table("table6", "Table VI: 1D CNN on audio rebuilt from adversarial spectrograms", "tables.rst"),
    Table("table7", "Table VII: SNR (dB) of rebuilt audio, mean ± SD over segments", "tables.rst"),
    Table("study_matched", "Transfer study at matched true SNR: fooling rate and segment accuracy, "
          "attack / noise control", "study.rst"),
    Table("study_verdict", "Transfer study: every attack against each control, paired by clip, with 95 % "
          "intervals", "study_verdict.rst"),
    Table("study_bounds", "Transfer study: where each attack beats its control, or the bound its sweep leaves",
          "study_bounds.rst"),
)
TABLE = {table.stem: table for table in TABLES}

# reports/figures/<name>.png written by the study's report (the others are named per run:
# fig4_<rep>_<attack>, confusion/<model>_fold<k>)
STUDY_FIGURES = ("study_accuracy_vs_snr", "study_visqol_vs_snr")
