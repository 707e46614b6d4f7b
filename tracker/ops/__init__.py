"""Operations: the daily cycle, scheduler, crawl runner, backup, doctor and the demo."""
