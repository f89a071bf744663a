from extracted.common.runner import main

if __name__ == "__main__":
    main("tests.extracted.common.chassis_service.settings")
