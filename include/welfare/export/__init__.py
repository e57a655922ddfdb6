"""Exports of the warehouse for readers outside the office.

``open_data`` writes the open-data files (``welfare export-open``): the strategy indicators, their
attainment and the person register's aggregate measurement, as CSV files Excel opens in Thai, with
small-number suppression for PDPA (พ.ร.บ. คุ้มครองข้อมูลส่วนบุคคล): a count of persons or households
between 1 and the threshold is blanked at district level, with complementary suppression so that no
blanked cell can be recovered from the province total. It reads only the aggregate tables of the
``marts`` schema, never a person-level mart, ``restricted``, ``raw``, ``staging`` or ``intermediate``;
the warehouse itself stays exact.
"""
