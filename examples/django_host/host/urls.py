from django.contrib import admin
from django.urls import include, path

from marketplace import views

urlpatterns = [
    path("", views.home, name="home"),
    path("checkout-token", views.checkout_token, name="checkout-token"),
    path("checkout-events", views.receive_event, name="checkout-events"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
