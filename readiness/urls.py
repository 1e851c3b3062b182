"""Dashboard and briefing pages (the API is in readiness.api)."""

from django.urls import path

from readiness import draft_views, views

app_name = "readiness"
urlpatterns = [
    path("dashboard/", views.overview, name="overview"),
    path("dashboard/live/", views.overview_live, name="overview_live"),
    path("dashboard/reevaluate/", views.reevaluate, name="reevaluate"),
    path("dashboard/agencies/<slug:slug>/", views.agency, name="agency"),
    path("dashboard/agencies/<slug:slug>/live/", views.agency_live, name="agency_live"),
    path("dashboard/agencies/<slug:slug>/failing/", views.agency_failing, name="agency_failing"),
    path("dashboard/requirements/", views.requirement_sets, name="requirement_sets"),
    path("dashboard/requirements/<slug:code>/", views.requirement_set, name="requirement_set"),
    path("dashboard/requirements/<slug:code>/whatif/", views.whatif, name="whatif"),
    path(
        "dashboard/requirements/<slug:code>/whatif/results/",
        views.whatif_results,
        name="whatif_results",
    ),
    path("dashboard/requirements/<slug:code>/drafts/", draft_views.draft_list, name="drafts"),
    path("dashboard/requirements/<slug:code>/drafts/<int:pk>/", draft_views.draft, name="draft"),
    path(
        "dashboard/requirements/<slug:code>/drafts/<int:pk>/requirements/new/",
        draft_views.requirement_new,
        name="draft_requirement_new",
    ),
    path(
        "dashboard/requirements/<slug:code>/drafts/<int:pk>/requirements/<str:key>/",
        draft_views.requirement_edit,
        name="draft_requirement",
    ),
    path(
        "dashboard/requirements/<slug:code>/drafts/<int:pk>/requirements/<str:key>/remove/",
        draft_views.requirement_remove,
        name="draft_requirement_remove",
    ),
    path(
        "dashboard/requirements/<slug:code>/drafts/<int:pk>/publish/",
        draft_views.draft_publish,
        name="draft_publish",
    ),
    path(
        "dashboard/requirements/<slug:code>/versions/<str:version>/file/",
        draft_views.version_file,
        name="version_file",
    ),
    path(
        "dashboard/participation/expectations/",
        draft_views.expectations_page,
        name="expectations",
    ),
    path("dashboard/participation/", views.participation, name="participation"),
    path("dashboard/portfolio/", views.portfolio, name="portfolio"),
    path("dashboard/portfolio/<slug:slug>/", views.portfolio_cabinet, name="portfolio_cabinet"),
    path("waivers/pending/", views.waivers_pending, name="waivers_pending"),
    path("waivers/<int:pk>/", views.waiver_detail, name="waiver_detail"),
    path("waivers/<int:pk>/decide/", views.waiver_decide, name="waiver_decide"),
    path("briefings/", views.briefings, name="briefings"),
    path("briefings/<int:pk>/", views.briefing, name="briefing"),
    path("briefings/<int:pk>/status/", views.briefing_status, name="briefing_status"),
    path("briefings/<int:pk>/download/", views.briefing_download, name="briefing_download"),
]
