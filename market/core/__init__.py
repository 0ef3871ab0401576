"""What every domain stands on: settings, the database, the clock, ids, errors, i18n, SQL helpers and channels."""
