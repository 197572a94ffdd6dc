"""Staff actions: each form calls exactly one domain function."""

from backoffice.forms.adjustment import FORM as ADJUSTMENT_FORM
from backoffice.forms.charge_run import FORM as CHARGE_RUN_FORM
from backoffice.forms.new_contract import FORM as NEW_CONTRACT_FORM
from backoffice.forms.office_payment import FORM as OFFICE_PAYMENT_FORM
from backoffice.forms.reset_password import FORM as RESET_PASSWORD_FORM

FORMS = [NEW_CONTRACT_FORM, RESET_PASSWORD_FORM, OFFICE_PAYMENT_FORM, ADJUSTMENT_FORM]
FORMS.append(CHARGE_RUN_FORM)
