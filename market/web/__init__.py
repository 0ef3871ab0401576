"""What every page stands on: rendering, forms, money and time on the page, labels, the OpenAPI document."""
