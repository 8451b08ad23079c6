"""Notices to patrons (docs/notices.md): a hold ready to pick up, a copy overdue, and
(shown on the OPAC account and at the kiosk only) a copy due in the next few days.

`due` says what is due now, from the state alone; `routing` whom an e-mail may go to
(never a child's own address); `texts` the words, which the branch admin may edit;
`outbox` the e-mail queue, kept on this device only, where each notice is one row for
ever; `mailconf` the SMTP server's settings. The core opens no socket: the SMTP client
is appliance/mail.py, the printed slips appliance/notice_slips.py."""

from .due import Notice, for_patron, now_due  # noqa: F401
