"""The weekly newsletter (owns: subscribers, the week's email, its SMTP delivery; docs/newsletter.md).

May import: toolpanel.errors, config, sections, panel.personas, publish (the digest's selection and
templates: one copy of what a week shows), warehouse. Nothing imports it but the CLI and flows/newsletter.py.
Subscribers and deliveries are warehouse tables (m016) kept out of the analyst snapshot.
"""
