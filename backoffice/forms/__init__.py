"""Staff actions: each form calls exactly one domain function.

Actions on one contract (new contract, cash payment, adjustment, refund, password reset,
cabinet view, contract history) and the charge run are office pages (backoffice/office.py),
which find the contract, address or tariff by search and confirm before money moves; they
replaced the forms here that asked for typed ids.
"""

from backoffice.forms.job_retry import FORM as JOB_RETRY_FORM
from backoffice.forms.payment_report import FORM as PAYMENT_REPORT_FORM
from backoffice.forms.ratings_report import FORM as RATINGS_REPORT_FORM
from backoffice.forms.request_balance_refund import FILE_FORM as BALANCE_REFUND_FILE_FORM
from backoffice.forms.request_balance_refund import FORM as BALANCE_REFUND_FORM
from backoffice.forms.request_convert import FORM as REQUEST_CONVERT_FORM
from backoffice.forms.request_done import FORM as REQUEST_DONE_FORM
from backoffice.forms.request_reject import FORM as REQUEST_REJECT_FORM
from backoffice.forms.request_reply import FORM as REQUEST_REPLY_FORM
from backoffice.forms.request_take import FORM as REQUEST_TAKE_FORM
from backoffice.forms.request_tariff_change import FORM as REQUEST_TARIFF_CHANGE_FORM
from backoffice.forms.request_termination import FORM as REQUEST_TERMINATION_FORM

FORMS = [
    PAYMENT_REPORT_FORM,
    RATINGS_REPORT_FORM,
    JOB_RETRY_FORM,
]
REQUEST_FORMS = [REQUEST_TAKE_FORM, REQUEST_REPLY_FORM, REQUEST_DONE_FORM, REQUEST_REJECT_FORM,
                 REQUEST_TARIFF_CHANGE_FORM, REQUEST_TERMINATION_FORM, REQUEST_CONVERT_FORM,
                 BALANCE_REFUND_FILE_FORM, BALANCE_REFUND_FORM]
FORMS += REQUEST_FORMS
