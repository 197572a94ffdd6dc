"""Staff actions: each form calls exactly one domain function."""

from backoffice.forms.adjustment import FORM as ADJUSTMENT_FORM
from backoffice.forms.charge_run import FORM as CHARGE_RUN_FORM
from backoffice.forms.contract_history import FORM as HISTORY_FORM
from backoffice.forms.new_contract import FORM as NEW_CONTRACT_FORM
from backoffice.forms.office_payment import FORM as OFFICE_PAYMENT_FORM
from backoffice.forms.payment_report import FORM as PAYMENT_REPORT_FORM
from backoffice.forms.ratings_report import FORM as RATINGS_REPORT_FORM
from backoffice.forms.refund import FORM as REFUND_FORM
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
]
