"""NextCRM: its 29 models, junctions and enums, as one checked App (models in load order)."""

from toolkit.declarations.app import App
from toolkit.declarations.spec import Feed, Junction, ModelSpec, Side
from transforms import (
    boards,
    crm_accounts,
    crm_accounts_tasks,
    crm_campaigns,
    crm_contacts,
    crm_contracts,
    crm_industry_type,
    crm_leads,
    crm_opportunities,
    crm_opportunities_sales_stages,
    crm_opportunities_type,
    documents,
    documents_types,
    employees,
    gpt_models,
    image_upload,
    invoice_states,
    invoices,
    modul_status,
    my_account,
    open_ai_keys,
    second_brain_notions,
    sections,
    system_modules_enabled,
    system_services,
    tasks,
    tasks_comments,
    todo_list,
    users,
)
from transforms.sample_data import SAMPLE_DATA

DECLARED: tuple[ModelSpec, ...] = tuple(
    m.SPEC
    for m in (
        users,
        crm_industry_type,
        crm_campaigns,
        crm_opportunities_sales_stages,
        crm_opportunities_type,
        documents_types,
        invoice_states,
        employees,
        image_upload,
        my_account,
        modul_status,
        todo_list,
        system_modules_enabled,
        system_services,
        gpt_models,
        crm_accounts,
        crm_leads,
        crm_opportunities,
        crm_contacts,
        crm_contracts,
        boards,
        invoices,
        documents,
        sections,
        tasks,
        crm_accounts_tasks,
        tasks_comments,
        second_brain_notions,
        open_ai_keys,
    )
)

JUNCTIONS: tuple[Junction, ...] = (
    Junction(
        "AccountWatchers",
        Side("account_id", "crm_Accounts"),
        Side("user_id", "Users"),
        (Feed("crm_Accounts", "watchers"), Feed("Users", "watching_accountsIDs")),
    ),
    Junction(
        "BoardWatchers",
        Side("board_id", "Boards"),
        Side("user_id", "Users"),
        (Feed("Boards", "watchers"), Feed("Users", "watching_boardsIDs")),
    ),
    Junction(
        "ContactsToOpportunities",
        Side("contact_id", "crm_Contacts"),
        Side("opportunity_id", "crm_Opportunities"),
        (Feed("crm_Contacts", "opportunitiesIDs"), Feed("crm_Opportunities", "connected_contacts")),
    ),
    Junction(
        "DocumentsToAccounts",
        Side("document_id", "Documents"),
        Side("account_id", "crm_Accounts"),
        (Feed("Documents", "accountsIDs"), Feed("crm_Accounts", "documentsIDs")),
    ),
    Junction(
        "DocumentsToContacts",
        Side("document_id", "Documents"),
        Side("contact_id", "crm_Contacts"),
        (Feed("Documents", "contactsIDs"), Feed("crm_Contacts", "documentsIDs")),
    ),
    Junction(
        "DocumentsToCrmAccountsTasks",
        Side("document_id", "Documents"),
        Side("crm_accounts_task_id", "crm_Accounts_Tasks"),
        (Feed("Documents", "crm_accounts_tasksIDs"),),
    ),
    Junction(
        "DocumentsToInvoices",
        Side("document_id", "Documents"),
        Side("invoice_id", "Invoices"),
        (Feed("Documents", "invoiceIDs"), Feed("Invoices", "connected_documents")),
    ),
    Junction(
        "DocumentsToLeads",
        Side("document_id", "Documents"),
        Side("lead_id", "crm_Leads"),
        (Feed("Documents", "leadsIDs"), Feed("crm_Leads", "documentsIDs")),
    ),
    Junction(
        "DocumentsToOpportunities",
        Side("document_id", "Documents"),
        Side("opportunity_id", "crm_Opportunities"),
        (Feed("Documents", "opportunityIDs"), Feed("crm_Opportunities", "connected_documents")),
    ),
    Junction(
        "DocumentsToTasks",
        Side("document_id", "Documents"),
        Side("task_id", "Tasks"),
        (Feed("Documents", "tasksIDs"), Feed("Tasks", "documentIDs")),
    ),
)

ENUMS: dict[str, tuple[str, ...]] = {
    "ActiveStatus": ("ACTIVE", "INACTIVE", "PENDING"),
    "DocumentSystemType": ("INVOICE", "RECEIPT", "CONTRACT", "OFFER", "OTHER"),
    "Language": ("cz", "en", "de", "uk"),
    "crm_Contact_Type": ("Customer", "Partner", "Vendor", "Prospect"),
    "crm_Contracts_Status": ("NOTSTARTED", "INPROGRESS", "SIGNED"),
    "crm_Lead_Status": ("NEW", "CONTACTED", "QUALIFIED", "LOST"),
    "crm_Lead_Type": ("DEMO",),
    "crm_Opportunity_Status": ("ACTIVE", "INACTIVE", "PENDING", "CLOSED"),
    "gptStatus": ("ACTIVE", "INACTIVE"),
    "taskStatus": ("ACTIVE", "PENDING", "COMPLETE"),
}

from transforms.queries import EXTRA_INDEXES, QUERIES  # noqa: E402  (they read the declarations above)

APP = App(
    "NextCRM",
    DECLARED,
    JUNCTIONS,
    ENUMS,
    database="nextcrm",
    sample_data=SAMPLE_DATA,
    queries=QUERIES,
    extra_indexes=EXTRA_INDEXES,
)
MODELS: tuple[ModelSpec, ...] = APP.models
