"""Staff actions: each form calls exactly one domain function."""

from backoffice.forms.adjustment import FORM as ADJUSTMENT_FORM
from backoffice.forms.charge_run import FORM as CHARGE_RUN_FORM
from backoffice.forms.contract_history import FORM as HISTORY_FORM
from backoffice.forms.job_retry import FORM as JOB_RETRY_FORM
from backoffice.forms.new_contract import FORM as NEW_CONTRACT_FORM
from backoffice.forms.office_payment import FORM as OFFICE_PAYMENT_FORM
from backoffice.forms.payment_report import FORM as PAYMENT_REPORT_FORM
from backoffice.forms.ratings_report import FORM as RATINGS_REPORT_FORM
from backoffice.forms.refund import FORM as REFUND_FORM
from backoffice.forms.request_balance_refund import FILE_FORM as BALANCE_REFUND_FILE_FORM
from backoffice.forms.request_balance_refund import FORM as BALANCE_REFUND_FORM
from backoffice.forms.request_convert import FORM as REQUEST_CONVERT_FORM
from backoffice.forms.request_done import FORM as REQUEST_DONE_FORM
from backoffice.forms.request_reject import FORM as REQUEST_REJECT_FORM
from backoffice.forms.request_reply import FORM as REQUEST_REPLY_FORM
from backoffice.forms.request_take import FORM as REQUEST_TAKE_FORM
from backoffice.forms.request_tariff_change import FORM as REQUEST_TARIFF_CHANGE_FORM
from backoffice.forms.request_termination import FORM as REQUEST_TERMINATION_FORM
from backoffice.forms.reset_password import FORM as RESET_PASSWORD_FORM
from backoffice.forms.view_cabinet import FORM as VIEW_CABINET_FORM

FORMS = [
    NEW_CONTRACT_FORM,
    RESET_PASSWORD_FORM,
    VIEW_CABINET_FORM,
    HISTORY_FORM,
    OFFICE_PAYMENT_FORM,
    ADJUSTMENT_FORM,
    REFUND_FORM,
    PAYMENT_REPORT_FORM,
    RATINGS_REPORT_FORM,
    CHARGE_RUN_FORM,
    JOB_RETRY_FORM,
]
REQUEST_FORMS = [REQUEST_TAKE_FORM, REQUEST_REPLY_FORM, REQUEST_DONE_FORM, REQUEST_REJECT_FORM,
                 REQUEST_TARIFF_CHANGE_FORM, REQUEST_TERMINATION_FORM, REQUEST_CONVERT_FORM,
                 BALANCE_REFUND_FILE_FORM, BALANCE_REFUND_FORM]
FORMS += REQUEST_FORMS
