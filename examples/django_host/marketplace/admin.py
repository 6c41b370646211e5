from django.contrib import admin

from marketplace.models import PackageItem, Practitioner, ReceivedEvent, Service


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "timezone", "is_active", "checkout_id")


class PackageItemInline(admin.TabularInline):
    model = PackageItem
    fk_name = "package"
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "external_id", "practitioner", "price_cents", "is_active", "checkout_id")
    list_filter = ("type", "is_active")
    inlines = [PackageItemInline]


@admin.register(ReceivedEvent)
class ReceivedEventAdmin(admin.ModelAdmin):
    list_display = ("type", "webhook_id", "created_at", "received_at")
    list_filter = ("type",)
    readonly_fields = ("webhook_id", "type", "payload", "created_at", "received_at")
