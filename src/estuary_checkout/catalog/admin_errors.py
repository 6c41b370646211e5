from estuary_checkout.errors import Conflict, NotFound


class PractitionerNotFound(NotFound):
    code = "PRACTITIONER_NOT_FOUND"
    message = "Practitioner not found"


class ServiceNotFound(NotFound):
    code = "SERVICE_NOT_FOUND"
    message = "Service not found"


class TimeOffNotFound(NotFound):
    code = "TIME_OFF_NOT_FOUND"
    message = "Time off not found"


class ExternalIdTaken(Conflict):
    code = "EXTERNAL_ID_TAKEN"
    message = "Another row of this kind already has this external_id"
