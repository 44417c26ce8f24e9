"""The whole wire vocabulary, assembled once: every websocket frame is one of these Structs.

Requests (client → server) form the tagged union ``Request`` on the ``type``
field; one decoder is built for it once (``codec.py``). Replies are ``ok`` or
``error`` frames echoing the request's ``id`` as ``re``; events are pushed with
no ``re``. New fields always get defaults, so older clients keep working.
Money travels as decimal strings with two places; quantities as decimal
strings out, an integer or a decimal string in.

The Structs are defined one module per domain: ``frames.py`` (what every frame
shares: the request base, ``ok``, ``error``, the decimals in), ``wire_session.py``,
``wire_lane.py`` (the open ticket), ``wire_catalog.py``, ``wire_stock.py`` (stock and
purchasing), ``wire_drawer.py``, ``wire_customers.py``, ``wire_sales.py`` (after the
sale, invoices). This module gathers them: the request union, the verbs that change
state, the replies and the events (the JSON Schema and tests/test_docs.py walk these),
the verb groups the session routes, and the error codes. Every name stays importable
from here (``from laneserver.protocol import messages as wire; wire.Scan``).
"""

from __future__ import annotations

from typing import Union

from laneserver.rules.outcome import Code as _OutcomeCode
from laneserver.protocol.frames import (
    PROTOCOL_VERSION,
    Candidate,
    Denomination,
    Error,
    Id,
    LineProblemView,
    OpenTicketView,
    MoneyIn,
    Ok,
    QtyIn,
    Reply,
    Request,
    RequestId,
)
from laneserver.protocol.wire_admin import (
    DeviceOk,
    DeviceRevoke,
    Devices,
    DevicesOk,
    DeviceView,
    Pair,
    PairOk,
    SellerAdd,
    SellerDisable,
    SellerOk,
    SellerPin,
    Sellers,
    SellersOk,
    SellerView,
)
from laneserver.protocol.wire_catalog import (
    AlcoholPriceOk,
    AlcoholPricing,
    ArticleCreate,
    ArticleOk,
    ArticleView,
    BarcodeAttach,
    Keyboard,
    KeyboardOk,
    KeyboardPageIn,
    KeyboardPageView,
    KeyboardSave,
    KeyIn,
    KeyView,
    PriceCheck,
    PriceCheckOk,
    Search,
    SearchOk,
    VariantView,
)
from laneserver.protocol.wire_customers import (
    BalanceCorrect,
    CouponView,
    CreditDeposit,
    CustomerCreate,
    CustomerCreatedOk,
    CustomerEdit,
    CustomerOk,
    CustomerSaleView,
    CustomerSearch,
    CustomersOk,
    CustomerSummaryView,
    CustomerView,
    GetCustomer,
    GetVoucher,
    TopupOk,
    VoucherIssue,
    VoucherOk,
    VoucherView,
    WalletTopup,
    WalletTopupCancel,
)
from laneserver.protocol.wire_documents import (
    DeliveryNote,
    DocumentCancel,
    DocumentCancelledOk,
    DocumentInvoice,
    DocumentLineView,
    DocumentOk,
    DocumentPdf,
    DocumentPdfOk,
    Documents,
    DocumentsOk,
    DocumentView,
    Order,
    Quote,
)
from laneserver.protocol.wire_drawer import (
    DrawerAlertEvent,
    DrawerSensorEvent,
    DrawerCount,
    DrawerCountOk,
    DrawerMovement,
    DrawerMovementView,
    DrawerOk,
    DrawerOpen,
    DrawerOpenOk,
    DrawerView,
    GetDrawer,
)
from laneserver.protocol.wire_fiscal import (
    Close,
    CloseOk,
    ClosureView,
    Closures,
    ClosuresOk,
    CountView,
    Events,
    EventsOk,
    GrandView,
    ReportView,
    TotalsView,
    VatTotalView,
    XReport,
    XReportOk,
)
from laneserver.protocol.wire_lane import (
    Add,
    BasketEmpty,
    BasketEvent,
    BasketLine,
    BasketOk,
    BasketPark,
    BasketParkOk,
    LineFromView,
    CancelTicket,
    Discount,
    ExclVatView,
    Finish,
    FinishOk,
    GetTicket,
    Held,
    HeldOk,
    HeldView,
    Hold,
    HoldOk,
    InstalmentView,
    LaneStatusEvent,
    LineView,
    Pay,
    PaymentView,
    PrinterEvent,
    Recall,
    RemoveLine,
    RemovePayment,
    Scan,
    ScanRefusedEvent,
    GetReceipt,
    ReceiptOk,
    SetCustomer,
    SetPrice,
    SetQty,
    Subtotal,
    SubtotalView,
    TicketEvent,
    TicketOk,
    TicketView,
    TopupLine,
    VatRowView,
)
from laneserver.protocol.wire_sales import (
    DebtAbandon,
    DebtView,
    GetInvoice,
    GetSale,
    InvoiceOk,
    PayLater,
    PaymentCorrect,
    Reprint,
    ReprintOk,
    SaleCancel,
    SaleCancelledOk,
    SaleLineView,
    SaleOk,
    SalePaymentView,
    SaleView,
    Unpaid,
    UnpaidOk,
)
from laneserver.protocol.wire_session import (
    Hello,
    HelloOk,
    PaymentModeView,
    ShopView,
    SignedOutEvent,
    SignIn,
    SignInOk,
    SignOut,
)
from laneserver.protocol.wire_stock import (
    AdjustmentView,
    CountedLine,
    CountRowView,
    LabelRequest,
    LabelRequestOk,
    LabelRequests,
    LabelRequestsOk,
    LabelRequestView,
    StockCountOk,
    StockCounts,
    StockCountValidate,
    StockCountValidateOk,
    StockCountZone,
    ExpiringLotView,
    MovementView,
    OrderLineView,
    ProposedLineView,
    ProposedOrderView,
    PurchaseCancel,
    PurchaseLine,
    PurchaseOrderCreate,
    PurchaseOrderOk,
    PurchaseOrders,
    PurchaseOrdersOk,
    PurchaseOrderView,
    PurchaseReceive,
    Replenishment,
    ReplenishmentOk,
    Stock,
    StockAlertEvent,
    StockCount,
    StockDelete,
    StockEntry,
    StockExit,
    StockExpiring,
    StockExpiringOk,
    StockHistory,
    StockHistoryOk,
    StockOk,
    StockPointView,
    StockProduce,
    StockRowView,
    StockStateOk,
    StockStateRequest,
    StockTracking,
    StockTransfer,
    StockWarningView,
)

RequestUnion = Union[
    Hello, SignIn, SignOut, Scan, Add, SetQty, RemoveLine, CancelTicket, Discount, SetCustomer, Hold, Held, Recall,
    Pay, RemovePayment, Finish, GetTicket, Stock, StockEntry, StockExit, BasketEmpty, Search, PriceCheck, Keyboard,
    StockCount, StockTransfer, StockTracking, StockDelete, StockStateRequest, StockHistory, StockProduce,
    StockExpiring, PurchaseOrderCreate, PurchaseReceive, PurchaseCancel, PurchaseOrders, Replenishment,
    DrawerMovement, DrawerOpen, DrawerCount, GetDrawer, CustomerCreate, GetCustomer, CustomerSearch, CustomerEdit,
    CreditDeposit, WalletTopup, WalletTopupCancel, BalanceCorrect, VoucherIssue, GetVoucher, TopupLine,
    AlcoholPricing, GetSale, PaymentCorrect, SaleCancel, Unpaid, PayLater, DebtAbandon, GetInvoice,
    XReport, Close, Closures,
    Pair, Sellers, SellerAdd, SellerDisable, SellerPin, Devices, DeviceRevoke,
    Reprint,
    Events,
    BasketPark, StockCountZone, StockCounts, StockCountValidate, LabelRequest, LabelRequests,
    KeyboardSave,
    Quote, Order, DeliveryNote, Documents, DocumentCancel, DocumentInvoice,
    SetPrice, Subtotal, GetReceipt,
    ArticleCreate, BarcodeAttach,
    DocumentPdf,
]

REQUEST_TYPES: tuple[type[Request], ...] = RequestUnion.__args__  # type: ignore[attr-defined]

# Verbs that change state: they may carry an idempotency ``key``.
MUTATING = (
    Scan, Add, SetQty, RemoveLine, CancelTicket, Discount, SetCustomer, Hold, Recall, Pay, RemovePayment, Finish,
    StockEntry, StockExit, BasketEmpty, StockCount, StockTransfer, StockTracking, StockDelete, StockProduce,
    PurchaseOrderCreate, PurchaseReceive, PurchaseCancel, DrawerMovement, DrawerOpen, DrawerCount, CustomerCreate,
    CustomerEdit, CreditDeposit, WalletTopup, WalletTopupCancel, BalanceCorrect, VoucherIssue, TopupLine,
    PaymentCorrect, SaleCancel, PayLater, DebtAbandon,
    Close,
    Reprint,
    BasketPark, StockCountZone, StockCountValidate, LabelRequest,
    Quote, Order, DeliveryNote, DocumentCancel, DocumentInvoice,
    SetPrice, Subtotal,
)

# An unknown code made sellable (issue 17): a supervisor's, or a supervisor's PIN.
CATALOG_EDIT_VERBS = (ArticleCreate, BarcodeAttach)

REPLY_TYPES = (
    Ok, HelloOk, SignInOk, TicketOk, HoldOk, HeldOk, FinishOk, StockOk, BasketOk, SearchOk, PriceCheckOk,
    KeyboardOk, StockStateOk, StockHistoryOk, StockExpiringOk, PurchaseOrderOk, PurchaseOrdersOk, ReplenishmentOk,
    Error, DrawerOk, DrawerOpenOk, DrawerCountOk, CustomerCreatedOk, CustomerOk, CustomersOk, TopupOk, VoucherOk,
    AlcoholPriceOk, SaleOk, SaleCancelledOk, UnpaidOk, InvoiceOk,
    XReportOk, CloseOk, ClosuresOk,
    PairOk, SellersOk, SellerOk, DevicesOk, DeviceOk,
    ReprintOk,
    EventsOk,
    BasketParkOk, StockCountOk, StockCountValidateOk, LabelRequestOk, LabelRequestsOk,
    DocumentOk, DocumentsOk, DocumentCancelledOk,
    ReceiptOk,
    ArticleOk,
    DocumentPdfOk,
)

EVENT_TYPES = (TicketEvent, PrinterEvent, StockAlertEvent, DrawerAlertEvent, SignedOutEvent, LaneStatusEvent,
               ScanRefusedEvent, DrawerSensorEvent, BasketEvent)

# The verbs the session hands to the customers actor, and to the sales actor.
CUSTOMER_VERBS = (
    CustomerCreate, GetCustomer, CustomerSearch, CustomerEdit, CreditDeposit, WalletTopup, WalletTopupCancel,
    BalanceCorrect, VoucherIssue, GetVoucher,
)
SALES_VERBS = (GetSale, PaymentCorrect, SaleCancel, Unpaid, PayLater, DebtAbandon)
# The verbs the session hands to the fiscal actor (closures).
FISCAL_VERBS = (XReport, Close, Closures)
# A manager's verbs on sellers and devices (server/edge_admin.py).
ADMIN_VERBS = (Sellers, SellerAdd, SellerDisable, SellerPin, Devices, DeviceRevoke)
# Documents (rules/documents.py): made from and recalled into a lane's ticket, or kept
# by the documents actor (list, cancel).
DOCUMENT_LANE_VERBS = (Quote, Order, DeliveryNote, DocumentInvoice)
DOCUMENT_VERBS = (Documents, DocumentCancel)


# --- stable error codes --------------------------------------------------------------

# The codes are the domain's (rules/outcome.py): one list, the wire's names.
Code = _OutcomeCode


__all__ = [
    "ADMIN_VERBS", "CUSTOMER_VERBS", "DeviceOk", "DeviceRevoke", "DeviceView", "Devices", "DevicesOk", "Pair",
    "PairOk", "SellerAdd", "SellerDisable", "SellerOk", "SellerPin", "SellerView", "Sellers", "SellersOk",
    "EVENT_TYPES", "MUTATING", "PROTOCOL_VERSION", "REPLY_TYPES", "REQUEST_TYPES", "SALES_VERBS",
    "Add", "AlcoholPriceOk", "AlcoholPricing", "ArticleView", "BalanceCorrect", "BasketEmpty", "BasketLine",
    "BasketOk", "CancelTicket", "Candidate", "Code", "CouponView", "CreditDeposit", "CustomerCreate",
    "CustomerCreatedOk", "CustomerEdit", "CustomerOk", "CustomerSaleView", "CustomerSearch", "CustomerSummaryView",
    "CustomerView", "CustomersOk", "DebtAbandon", "DebtView", "Denomination", "Discount", "DrawerAlertEvent", "DrawerSensorEvent",
    "DrawerCount", "DrawerCountOk", "DrawerMovement", "DrawerMovementView", "DrawerOk", "DrawerOpen",
    "DrawerOpenOk", "DrawerView", "Error", "Events", "EventsOk", "ExclVatView", "ExpiringLotView", "Finish",
    "FinishOk", "GetCustomer",
    "GetDrawer", "GetInvoice", "GetSale", "GetTicket", "GetVoucher", "Held", "HeldOk", "HeldView", "Hello",
    "HelloOk", "Hold", "HoldOk", "Id", "InstalmentView", "InvoiceOk", "KeyView", "Keyboard", "KeyboardOk",
    "KeyboardPageView", "LaneStatusEvent", "LineView", "MoneyIn", "MovementView", "Ok", "OrderLineView", "Pay",
    "PayLater", "PaymentCorrect", "PaymentModeView", "PaymentView", "PriceCheck", "PriceCheckOk", "PrinterEvent",
    "ProposedLineView", "ProposedOrderView", "PurchaseCancel", "PurchaseLine", "PurchaseOrderCreate",
    "PurchaseOrderOk", "PurchaseOrderView", "PurchaseOrders", "PurchaseOrdersOk", "PurchaseReceive", "QtyIn",
    "Recall", "RemoveLine", "RemovePayment", "Replenishment", "ReplenishmentOk", "Reply", "Request", "RequestId",
    "RequestUnion", "SaleCancel", "SaleCancelledOk", "SaleLineView", "SaleOk", "SalePaymentView", "SaleView", "Scan", "Search",
    "SearchOk", "GetReceipt", "ReceiptOk", "SetCustomer", "SetPrice", "SetQty", "Subtotal", "SubtotalView", "ShopView", "SignIn", "SignInOk", "SignOut", "SignedOutEvent", "Stock",
    "StockAlertEvent", "StockCount", "StockDelete", "StockEntry", "StockExit", "StockExpiring", "StockExpiringOk",
    "StockHistory", "StockHistoryOk", "StockOk", "StockPointView", "StockProduce", "StockRowView", "StockStateOk",
    "StockStateRequest", "StockTracking", "StockTransfer", "StockWarningView", "TicketEvent", "TicketOk",
    "TicketView", "TopupLine", "TopupOk", "Unpaid", "UnpaidOk", "VatRowView", "VoucherIssue", "VoucherOk",
    "VoucherView", "WalletTopup", "WalletTopupCancel",
    "VariantView", "KeyboardSave", "KeyIn", "KeyboardPageIn",
    "ArticleCreate", "BarcodeAttach", "ArticleOk", "CATALOG_EDIT_VERBS",
    "Reprint", "ReprintOk",
    "FISCAL_VERBS", "Close", "CloseOk", "ClosureView", "Closures", "ClosuresOk", "CountView", "GrandView",
    "OpenTicketView", "ReportView", "TotalsView", "VatTotalView", "XReport", "XReportOk",
    "ScanRefusedEvent",
    "BasketEvent", "BasketPark", "BasketParkOk", "LineFromView", "LineProblemView",
    "AdjustmentView", "CountedLine", "CountRowView", "LabelRequest", "LabelRequestOk", "LabelRequests",
    "LabelRequestsOk", "LabelRequestView", "StockCountOk", "StockCounts", "StockCountValidate",
    "StockCountValidateOk", "StockCountZone",
    "DOCUMENT_LANE_VERBS", "DOCUMENT_VERBS", "DeliveryNote", "DocumentCancel", "DocumentCancelledOk",
    "DocumentInvoice", "DocumentLineView", "DocumentOk", "DocumentView", "Documents", "DocumentsOk", "Order",
    "Quote",
    "DocumentPdf", "DocumentPdfOk",
]
