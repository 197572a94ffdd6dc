"""Billing's user-facing texts (Russian), kept together for translation."""

from __future__ import annotations

# User-facing texts (Russian), kept together for translation.
TEXTS = {
    "period_format": "Период указывается как ГГГГ-ММ, например 2026-12",
    "period_future": ("Период {period} ещё не наступил: начислить можно только за текущий месяц "
                      "({current}) или прошедшие"),
    "charge_comment": "Абонентская плата за {month}",
    # A prorated charge's comment ends with " (17 из 31 дн.)", assembled in SQL.
    "charge_days_open": " (",
    "charge_days_of": " из ",
    "charge_days_close": " дн.)",
    # A month with a voluntary pause: " (добровольная блокировка 14 из 31 дн.)".
    "charge_pause_open": " (добровольная блокировка ",
    "tariff_applied": "Смена тарифа вступила в силу",
    "correction_comment": "Перерасчёт абонентской платы за {month}: расторжение с {date}",
    "suspended_message": "Приостановлен за долг после начисления за {period}",
    "suspended_after_promised": "Приостановлен за долг после окончания обещанного платежа",
    "suspended_after_grace": "Приостановлен за долг: льготный срок после подключения ({days} дн.) истёк",
    "not_found": "Договор не найден",
    "tariff_not_found": "Тариф не найден",
    "tariff_cancel_none": "Отменить можно только свою смену тарифа, которая ещё не вступила в силу",
    "tariff_cancel_late": "Смена тарифа уже вступила в силу: отменить её нельзя",
    "tariff_archived": "Тариф «{name}» в архиве: на него нельзя перейти",
    "tariff_same": "Этот тариф уже действует на договоре с {date}",
    "tariff_terminated": "Договор расторгнут: смена тарифа невозможна",
    "tariff_after_termination": "Смена тарифа позже даты расторжения ({date}) невозможна",
    "tariff_before_connection": "Смена тарифа возможна только после даты подключения ({date})",
    "tariff_order": "Уже запланирована смена тарифа с {date}: новая может действовать только позже",
    "tariff_charged": ("Абонентская плата за {period} уже начислена: "
                       "смену тарифа можно назначить с {date}"),
    "not_terminated": "Договор не расторгнут: перерасчёт не нужен",
    "promised_available": "Можно взять до {max} ₽ на {days} дня",
    "promised_terminated": "Обещанный платёж недоступен для расторгнутого договора",
    "promised_terminating": "Обещанный платёж недоступен: договор расторгается с {date}",
    "promised_active": "Обещанный платёж уже действует до {until}",
    "promised_used": "Обещанный платёж в этом месяце уже был ({date}); следующий — с 1-го числа",
    "promised_no_fee": "У договора нет абонентской платы: обещанный платёж не предусмотрен",
    "promised_amount": "Сумма обещанного платежа — от 1 до {max} ₽",
    # A suspended contract comes back at a balance of 0 or more (post_entry): a promised payment
    # smaller than the debt would leave it suspended, so it is refused with what does restore it.
    "promised_debt_too_large": ("Обещанный платёж не вернёт доступ: долг {debt} ₽ больше, чем можно "
                                "взять ({max} ₽). Чтобы восстановить доступ, пополните счёт на "
                                "{debt} ₽ — или на {rest} ₽, а затем возьмите обещанный платёж."),
    "promised_below_debt": ("Обещанный платёж на эту сумму не вернёт доступ: долг {debt} ₽. "
                            "Возьмите не меньше {debt} ₽ (можно до {max} ₽)."),
    "promised_comment": "Обещанный платёж до {until}",
    "promised_reversal_comment": "Окончание обещанного платежа от {date}",
    # Voluntary pause (tables/billing/pauses.py).
    "pause_terminated": "Договор расторгнут или расторгается: добровольная блокировка недоступна",
    "pause_debt": ("Добровольная блокировка доступна только без долга: пополните счёт на {debt} ₽, "
                   "затем оформите блокировку"),
    "pause_start_past": "Блокировку можно начать не раньше завтрашнего дня ({date})",
    "pause_start_far": "Блокировку можно назначить не дальше чем на год вперёд (до {date})",
    "pause_length": "Срок блокировки — от {min} до {max} дней",
    "pause_overlap": "Даты пересекаются с уже оформленной блокировкой с {start} по {end}",
    "pause_one_at_a_time": ("Уже оформлена блокировка с {start} по {end}: новую можно оформить "
                            "после её окончания или отмены"),
    "pause_year_limit": ("В {year} году можно приостановить договор не больше чем на {limit} дн.; "
                         "осталось {left} дн."),
    "pause_none": "Действующей или запланированной блокировки нет",
    "pause_not_found": "Блокировка не найдена",
    "pause_comment_start": "Перерасчёт за {month}: добровольная блокировка с {start} по {end}",
    "pause_comment_end": "Перерасчёт за {month}: блокировка окончена досрочно {date}",
    "pause_suspended": "Приостановлен за долг после окончания добровольной блокировки",
}
