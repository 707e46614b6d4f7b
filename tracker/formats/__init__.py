"""Output formats: CSV/XLSX exports and iCalendar feeds."""
