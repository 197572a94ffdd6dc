"""1CClientBankExchange files as banks write them, for the statement tests."""

from __future__ import annotations

COMPANY_ACCOUNT = "40702810900000012345"


def document(number: str, date: str, amount: str, purpose: str, *, payer: str = "Иванов Иван Иванович",
             payer_account: str = "40817810500000054321", to: str = COMPANY_ACCOUNT) -> str:
    return "\n".join([
        "СекцияДокумент=Платежное поручение",
        f"Номер={number}",
        f"Дата={date}",
        f"Сумма={amount}",
        f"ПлательщикСчет={payer_account}",
        f"Плательщик=ИНН 0 {payer}",
        "ПлательщикИНН=0",
        f"Плательщик1={payer}",
        "ПлательщикБИК=045004641",
        f"ПолучательСчет={to}",
        "Получатель=ИНН 4217000000 ООО \"Центра\"",
        "ПолучательИНН=4217000000",
        f"ДатаПоступило={date}",
        "ВидОплаты=01",
        "Очередность=5",
        f"НазначениеПлатежа={purpose}",
        "КонецДокумента",
    ])


def statement(*documents: str, account: str = COMPANY_ACCOUNT, encoding: str = "cp1251") -> bytes:
    header = "\n".join([
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows" if encoding == "cp1251" else "Кодировка=UTF-8",
        "Отправитель=Бухгалтерия",
        "Получатель=",
        "ДатаСоздания=07.12.2026",
        "ДатаНачала=01.12.2026",
        "ДатаКонца=07.12.2026",
        f"РасчСчет={account}",
        "СекцияРасчСчет",
        "ДатаНачала=01.12.2026",
        "ДатаКонца=07.12.2026",
        f"РасчСчет={account}",
        "НачальныйОстаток=0.00",
        "КонецРасчСчет",
    ])
    text = "\r\n".join([header, *documents, "КонецФайла"]).replace("\n", "\r\n").replace("\r\r", "\r")
    return text.encode(encoding)
